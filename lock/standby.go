package lock

import (
	"context"
	"fmt"
	"os"

	"code.cloudfoundry.org/lager/v3"
	"github.com/tedsuo/ifrit"
)

// Standby runs Active only while it holds the lock, and survives losing it:
// when the lease lapses (etcd unreachable for about a TTL, or the process
// stalled) it stops Active, steps down to standby and campaigns again, so
// that whichever contender reaches etcd first takes over. Each new tenure
// runs Active afresh (Run is called again on the same runner), so Active
// must be able to start more than once and should rebuild its state from
// the source of truth when it does.
//
// Standby is ready at once: a standby process is a healthy process. Compare
// Runner, which ends the process when the lock is lost.
type Standby struct {
	Lock   Runner       // how to campaign: Logger, Client, Name, Value, TTL
	Active ifrit.Runner // runs only while the lock is held
}

// Run implements ifrit.Runner. It returns nil on a signal (after stopping
// Active and resigning), or Active's error if Active exits on its own while
// holding the lock (the lock is released first).
func (s *Standby) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := s.Lock.Logger.Session("lock", lager.Data{"name": s.Lock.Name})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	close(ready)

	for tenure := 1; ; tenure++ {
		h, err := s.Lock.acquire(ctx, logger)
		if err != nil {
			return nil // signalled while campaigning
		}
		active := ifrit.Background(s.Active)
		select {
		case <-h.lost():
			logger.Error("lost-stepping-down", ErrLost, lager.Data{"tenure": tenure})
			h.abandon()
			active.Signal(os.Interrupt)
			if err := <-active.Wait(); err != nil {
				logger.Error("active-stopped-with-error", err)
			}
			logger.Info("standing-by")
		case err := <-active.Wait():
			h.release(logger)
			if err != nil {
				return fmt.Errorf("lock %s: active runner exited: %w", s.Lock.Name, err)
			}
			return nil
		case <-ctx.Done():
			active.Signal(os.Interrupt)
			if err := <-active.Wait(); err != nil {
				logger.Error("active-stopped-with-error", err)
			}
			h.release(logger)
			return nil
		}
	}
}
