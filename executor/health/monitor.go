package health

import (
	"context"
	"time"

	"code.cloudfoundry.org/clock"
)

// Monitor runs liveness checks as a step: it returns only when the instance must
// end (never healthy, or became unhealthy) or when ctx is cancelled.
type Monitor struct {
	Checks           []Check
	StartupInterval  time.Duration // default 2 s
	LivenessInterval time.Duration // default 30 s; a check's own Interval wins
	StartTimeout     time.Duration // 0: wait for ever
	Clock            clock.Clock
	// OnHealthy is called once, when every check has passed for the first time.
	OnHealthy func()
}

// Perform implements the executor's step shape.
func (m Monitor) Perform(ctx context.Context) error {
	if err := m.startup(ctx); err != nil {
		return err
	}
	if m.OnHealthy != nil {
		m.OnHealthy()
	}
	return m.liveness(ctx)
}

func (m Monitor) startup(ctx context.Context) error {
	started := m.Clock.Now()
	interval := orDefault(m.StartupInterval, DefaultStartupInterval)
	pending := append([]Check(nil), m.Checks...)
	var last error
	for {
		remaining := pending[:0]
		for _, c := range pending {
			if err := c.Attempt(ctx); err != nil {
				last = err
				remaining = append(remaining, c)
			}
		}
		pending = remaining
		if len(pending) == 0 {
			return nil
		}
		wait := interval
		if m.StartTimeout > 0 {
			left := m.StartTimeout - m.Clock.Since(started)
			if left <= 0 {
				return &NeverHealthyError{After: m.StartTimeout, Last: last}
			}
			wait = min(wait, left)
		}
		if !m.sleep(ctx, wait) {
			return ErrCancelled
		}
	}
}

func (m Monitor) liveness(ctx context.Context) error {
	failures := make(chan error, len(m.Checks))
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range m.Checks {
		go func() {
			every := orDefault(c.Interval(), orDefault(m.LivenessInterval, DefaultLivenessInterval))
			for m.sleep(inner, every) {
				if err := c.Attempt(inner); err != nil {
					if inner.Err() == nil {
						failures <- err
					}
					return
				}
			}
		}()
	}
	select {
	case err := <-failures:
		return &UnhealthyError{Cause: err}
	case <-ctx.Done():
		return ErrCancelled
	}
}

// sleep waits d on the monitor's clock; false when ctx ended first.
func (m Monitor) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := m.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// Readiness polls readiness checks until ctx ends and reports each change of
// whether all pass. It never fails the instance.
type Readiness struct {
	Checks   []Check
	Interval time.Duration // default: the startup interval, 2 s
	Clock    clock.Clock
	OnChange func(ready bool)
}

// Perform runs until ctx is cancelled and then returns ErrCancelled.
func (r Readiness) Perform(ctx context.Context) error {
	interval := orDefault(r.Interval, DefaultStartupInterval)
	ready, known := false, false
	for {
		now := true
		for _, c := range r.Checks {
			if c.Attempt(ctx) != nil {
				now = false
				break
			}
		}
		if ctx.Err() != nil {
			return ErrCancelled
		}
		if !known || now != ready {
			ready, known = now, true
			r.OnChange(ready)
		}
		t := r.Clock.NewTimer(interval)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return ErrCancelled
		}
	}
}
