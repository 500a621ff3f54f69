package maintain

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
)

// LockName is the lock whose holder maintains etcd.
const LockName = "bbs-maintenance"

// DefaultInterval is how often a Runner looks at etcd.
const DefaultInterval = 10 * time.Second

// Runner is the ifrit runner every BBS runs. Every Interval it observes etcd
// (for the gauges); while it holds the maintenance lock (Tenure runs) it
// maintains; and when it sees NOSPACE while nobody holds the lock it
// maintains anyway, since nobody can take the lock until space is freed.
type Runner struct {
	Maintainer *Maintainer
	Logger     lager.Logger
	Clock      clock.Clock
	Interval   time.Duration // default DefaultInterval
	// LockName is the lock Tenure is run under (see lock.Standby); default
	// LockName. Only read to tell "nobody holds it".
	LockName string

	active atomic.Bool
}

// Tenure returns the runner to give lock.Standby as its Active: while it
// runs, this Runner maintains.
func (r *Runner) Tenure() ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		r.active.Store(true)
		defer r.active.Store(false)
		r.Logger.Session("maintain").Info("maintaining")
		close(ready)
		<-signals
		return nil
	})
}

// Run implements ifrit.Runner; ready at once.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	logger := r.Logger.Session("maintain")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // a signal also ends a pass in progress (a long defragmentation)
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	ticker := r.Clock.NewTicker(interval)
	defer ticker.Stop()
	close(ready)
	for {
		r.pass(ctx, logger)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
		}
	}
}

func (r *Runner) pass(ctx context.Context, logger lager.Logger) {
	if r.active.Load() {
		if _, err := r.Maintainer.Maintain(ctx, logger); err != nil {
			logger.Error("maintenance-failed", err)
		}
		return
	}
	obs, err := r.Maintainer.Observe(ctx, logger)
	if err != nil {
		logger.Error("observing-etcd-failed", err)
		return
	}
	if !obs.Health.HasAlarm(models.AlarmNoSpace) {
		return
	}
	name := r.LockName
	if name == "" {
		name = LockName
	}
	hctx, cancel := context.WithTimeout(ctx, r.Maintainer.opts.RequestTimeout)
	holder, err := lock.Holder(hctx, r.Maintainer.opts.Client, name)
	cancel()
	switch {
	case errors.Is(err, lock.ErrNoHolder):
		logger.Info("nospace-and-no-maintainer-recovering")
		if _, err := r.Maintainer.Maintain(ctx, logger); err != nil {
			logger.Error("recovery-failed", err)
		}
	case err != nil:
		logger.Error("reading-maintenance-lock-failed", err)
	default:
		logger.Info("nospace-left-to-the-maintainer", lager.Data{"holder": holder})
	}
}
