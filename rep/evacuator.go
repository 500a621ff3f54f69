package rep

import (
	"context"
	"os"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
)

// Evacuate starts draining the cell (DESIGN 8.1): no new work; every RUNNING
// LRP gets an EVACUATING copy that keeps its route while a replacement is
// auctioned, and its container goes only once the replacement runs (or the
// evacuation timeout passes). It returns at once; Evacuated is closed when done.
func (r *Rep) Evacuate() {
	if r.evacuating.Swap(true) {
		return
	}
	go r.drain()
}

// Evacuated is closed once an evacuation has emptied the cell.
func (r *Rep) Evacuated() <-chan struct{} { return r.evacuated }

func (r *Rep) drain() {
	logger := r.logger.Session("evacuate")
	logger.Info("started")
	deadline := r.clock.Now().Add(r.cfg.EvacuationTimeout)
	for {
		r.evacuatePass(logger)
		if len(r.executor.Containers()) == 0 {
			break
		}
		if r.clock.Now().After(deadline) {
			logger.Info("timed-out-stopping-the-rest")
			r.stopAll(logger)
			break
		}
		r.clock.Sleep(r.cfg.EvacuationPollingInterval)
	}
	logger.Info("done")
	r.evacOnce.Do(func() { close(r.evacuated) })
}

// evacuatePass asks the BBS, for every LRP still here, whether to keep it.
func (r *Rep) evacuatePass(logger lager.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range r.executor.Containers() {
		if c.Kind != executor.KindLRP {
			continue // tasks run to completion
		}
		key, instance := r.lrpKeys(c)
		var keep bool
		var err error
		switch c.State {
		case executor.StateRunning:
			keep, err = r.bbs.EvacuateRunningActualLRP(ctx, logger, key, instance, c.NetInfo)
		case executor.StateCompleted:
			continue // the processor reports it
		default:
			keep, err = r.bbs.EvacuateClaimedActualLRP(ctx, logger, key, instance)
		}
		if err != nil {
			logger.Error("evacuate-call-failed", err, lager.Data{"guid": c.Guid})
			if isGone(err) {
				go r.retire(logger.Session("retire", lager.Data{"guid": c.Guid}), c)
			}
			continue
		}
		if !keep {
			// The replacement runs and the evacuating copy is gone: this
			// one leaves the routes before it stops.
			go r.retire(logger.Session("retire", lager.Data{"guid": c.Guid}), c)
		}
	}
}

// Evacuator ends the rep with status 0 once an evacuation has drained the cell.
type Evacuator struct{ Rep *Rep }

// Run implements ifrit.Runner.
func (e Evacuator) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	select {
	case <-signals:
	case <-e.Rep.Evacuated():
	}
	return nil
}
