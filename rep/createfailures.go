package rep

import (
	"context"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
)

// Defaults of the black-hole guard.
const (
	DefaultCreateFailureThreshold = 3
	DefaultCreateFailureCooldown  = time.Minute
)

// createFailures counts consecutive container creates that failed for a
// reason of the cell's own (executor.RunResult.CellFault). A cell whose creates
// all fail (runc missing, a broken rootfs store, a full disk) still answers
// garden's ping and, being emptiest, would win every auction; past
// Config.CreateFailureThreshold such failures in a row it calls itself
// unhealthy, so the auction gives it nothing, until Config.CreateFailureCooldown
// has passed since the last one (then it takes work again, on trial) or a
// create succeeds.
type createFailures struct {
	mu    sync.Mutex
	count int
	last  time.Time
}

// observe counts an event's create outcome: a container that ran (or a task
// that completed without a cell fault) was created; a cell fault was not.
func (r *Rep) observeCreate(logger lager.Logger, ev executor.Event) {
	res := ev.Container.RunResult
	f := &r.createFailures
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case ev.Type == executor.EventRunning,
		ev.Type == executor.EventCompleted && ev.Container.Kind == executor.KindTask && !res.CellFault && !res.Stopped:
		f.count = 0
	case ev.Type == executor.EventCompleted && res.CellFault:
		f.count++
		f.last = r.clock.Now()
		if f.count == r.cfg.CreateFailureThreshold {
			logger.Error("cell-unhealthy-after-create-failures", nil, lager.Data{"failures": f.count,
				"last": res.FailureReason, "cooldown": r.cfg.CreateFailureCooldown.String()})
		}
	}
}

// createsBroken reports whether the cell calls itself unhealthy because its
// creates keep failing.
func (r *Rep) createsBroken() bool {
	f := &r.createFailures
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count >= r.cfg.CreateFailureThreshold && r.clock.Since(f.last) < r.cfg.CreateFailureCooldown
}

// giveBack un-claims an instance whose container the cell could not create:
// the work goes back to the auction for another cell, and no crash is counted
// against the app.
func (r *Rep) giveBack(ctx context.Context, logger lager.Logger, c executor.Container) {
	key, instance := r.lrpKeys(c)
	logger.Info("giving-back-after-cell-fault", lager.Data{"reason": c.RunResult.FailureReason})
	if err := r.bbs.RemoveActualLRP(ctx, logger, key, instance); err != nil {
		if !isGone(err) {
			logger.Error("give-back-remove-failed", err)
		}
	} else if err := r.bbs.CreateUnclaimedActualLRPs(ctx, logger, key.ProcessGuid, []int{key.Index}); err != nil {
		logger.Error("give-back-create-unclaimed-failed", err)
	}
	r.forget(ctx, logger, c.Guid)
}
