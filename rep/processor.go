package rep

import (
	"context"
	"errors"
	"hash/fnv"
	"os"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

// processorWorkers spreads event handling over a few goroutines while keeping
// each container's events in order (a container always lands on one worker).
const processorWorkers = 16

// Processor turns executor events into BBS transitions. It is an ifrit runner.
type Processor struct{ Rep *Rep }

// Run implements ifrit.Runner.
func (p Processor) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	events, unsubscribe := p.Rep.executor.Subscribe()
	defer unsubscribe()
	queues := make([]chan executor.Event, processorWorkers)
	for i := range queues {
		queues[i] = make(chan executor.Event, 256)
		go func(q chan executor.Event) {
			for ev := range q {
				p.Rep.handle(ev)
			}
		}(queues[i])
	}
	defer func() {
		for _, q := range queues {
			close(q)
		}
	}()
	close(ready)
	for {
		select {
		case <-signals:
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if ev.Type == executor.EventLagged {
				// Events were dropped: repair from the containers' state.
				p.Rep.logger.Error("missed-executor-events", nil)
				p.Rep.RequestResync()
				continue
			}
			h := fnv.New32a()
			h.Write([]byte(ev.Container.Guid))
			queues[h.Sum32()%processorWorkers] <- ev
		}
	}
}

// RequestResync asks the Harmonizer for a pass at once; it never blocks, and
// requests made while one is pending coalesce.
func (r *Rep) RequestResync() {
	select {
	case r.resync <- struct{}{}:
	default:
	}
}

func (r *Rep) handle(ev executor.Event) {
	c := ev.Container
	logger := r.logger.Session("event", lager.Data{"guid": c.Guid, "type": ev.Type, "kind": c.Kind, "state": c.State, "result": c.RunResult})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.observeCreate(logger, ev)
	switch c.Kind {
	case executor.KindLRP:
		r.handleLRP(ctx, logger, ev)
	case executor.KindTask:
		r.handleTask(ctx, logger, ev)
	}
}

func (r *Rep) lrpKeys(c executor.Container) (models.ActualLRPKey, models.ActualLRPInstanceKey) {
	key, instance := c.Instance()
	instance.CellID = r.cfg.CellID
	return key, instance
}

func (r *Rep) handleLRP(ctx context.Context, logger lager.Logger, ev executor.Event) {
	c := ev.Container
	key, instance := r.lrpKeys(c)
	switch ev.Type {
	case executor.EventRunning, executor.EventRoutable:
		if r.isDraining(c.Guid) {
			return // withdrawn from routing; a passing readiness check must not bring it back
		}
		if c.State != executor.StateRunning {
			// Only passed liveness checks make a record RUNNING; a readiness
			// change of a container still starting is not a start.
			logger.Info("ignoring-event-of-starting-container")
			return
		}
		var err error
		if r.evacuating.Load() {
			var keep bool
			keep, err = r.bbs.EvacuateRunningActualLRP(ctx, logger, key, instance, c.NetInfo)
			if err == nil && !keep {
				go r.retire(logger, c)
			}
		} else {
			err = r.bbs.StartActualLRP(ctx, logger, key, instance, c.NetInfo, c.Routable)
		}
		if err != nil {
			logger.Error("start-refused", err)
			if isGone(err) && !r.heldAsSuspect(ctx, logger, key, instance) {
				// Nobody wants this instance any more.
				go r.retire(logger, c)
			}
		}
	case executor.EventCompleted:
		var err error
		evacuating := r.evacuating.Load()
		if c.RunResult.CellFault && !evacuating {
			r.giveBack(ctx, logger, c)
			return
		}
		switch {
		case c.RunResult.Stopped && evacuating:
			err = r.bbs.EvacuateStoppedActualLRP(ctx, logger, key, instance)
		case c.RunResult.Stopped:
			err = r.bbs.RemoveActualLRP(ctx, logger, key, instance)
		case evacuating:
			err = r.bbs.EvacuateCrashedActualLRP(ctx, logger, key, instance, c.RunResult.FailureReason)
		default:
			err = r.bbs.CrashActualLRP(ctx, logger, key, instance, c.RunResult.FailureReason)
		}
		if isGone(err) && !evacuating {
			// An instance a roll replaced holds only the index's EVACUATING
			// copy; it must leave the routes now, not at the next harmonise.
			if rerr := r.bbs.RemoveEvacuatingActualLRP(ctx, logger, key, instance); rerr != nil && !isGone(rerr) {
				logger.Error("removing-evacuating-copy-failed", rerr)
			}
		}
		if err != nil && !isGone(err) {
			logger.Error("report-completion-failed", err)
		}
		r.forget(ctx, logger, c.Guid)
	}
}

func (r *Rep) handleTask(ctx context.Context, logger lager.Logger, ev executor.Event) {
	if ev.Type != executor.EventCompleted {
		return
	}
	c := ev.Container
	if !c.RunResult.Stopped {
		res := c.RunResult
		if err := r.bbs.CompleteTask(ctx, logger, c.Guid, r.cfg.CellID, res.Failed, res.FailureReason, res.Result); err != nil {
			logger.Error("complete-task-failed", err)
		}
	}
	if err := r.executor.Delete(ctx, c.Guid); err != nil {
		logger.Error("delete-failed", err)
	}
}

// heldAsSuspect reports whether the index's SUSPECT copy is this instance: its
// cell's presence lapsed, and the converger keeps or drops the copy. A start
// refused meanwhile must not stop the instance. When the BBS cannot say, the
// instance is kept; the harmonizer decides on its next pass.
func (r *Rep) heldAsSuspect(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) bool {
	index := key.Index
	list, err := r.bbs.ActualLRPs(ctx, logger, models.ActualLRPFilter{CellID: r.cfg.CellID, ProcessGuid: key.ProcessGuid, Index: &index})
	if err != nil {
		logger.Error("listing-index-failed", err)
		return true
	}
	for _, a := range list {
		if a.Presence == models.PresenceSuspect && a.InstanceGuid == instance.InstanceGuid && a.CellID == instance.CellID {
			return true
		}
	}
	return false
}

// isGone reports an answer meaning the record no longer belongs to this instance.
func isGone(err error) bool {
	return errors.Is(err, models.ErrActualLRPIndexNotFound) || errors.Is(err, models.ErrResourceNotFound) ||
		errors.Is(err, models.ErrActualLRPCannotBeClaimed) || errors.Is(err, models.ErrInvalidStateTransition) ||
		errors.Is(err, models.ErrDesiredLRPNotFound)
}
