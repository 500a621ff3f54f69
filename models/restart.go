package models

import (
	"math"
	"time"
)

// Default crash restart numbers (DESIGN 6.3).
const (
	DefaultImmediateRestarts = 3
	DefaultBaseBackoff       = 30 * time.Second
	DefaultMaxBackoff        = 16 * time.Minute
	DefaultMaxRestarts       = 200
	DefaultCrashResetAfter   = 5 * time.Minute
)

// DefaultRestartPolicy is the policy of an LRP without restart_policy: three
// immediate restarts, then 30 s doubling up to 16 min, none after 200 crashes,
// and the count starts again after 5 min of RUNNING.
func DefaultRestartPolicy() RestartPolicy {
	return RestartPolicy{
		ImmediateRestarts: DefaultImmediateRestarts,
		BaseBackoffMs:     DefaultBaseBackoff.Milliseconds(),
		MaxBackoffMs:      DefaultMaxBackoff.Milliseconds(),
		MaxRestarts:       DefaultMaxRestarts,
		ResetAfterMs:      DefaultCrashResetAfter.Milliseconds(),
	}
}

// EffectiveRestartPolicy is override if set, else DefaultRestartPolicy.
func EffectiveRestartPolicy(override *RestartPolicy) RestartPolicy {
	if override == nil {
		return DefaultRestartPolicy()
	}
	return *override
}

// EffectiveRestartPolicy is the policy that governs this LRP's crashes.
func (d *DesiredLRP) EffectiveRestartPolicy() RestartPolicy {
	return EffectiveRestartPolicy(d.RestartPolicy)
}

// EffectiveRestartPolicy is the policy that governs this LRP's crashes.
func (s DesiredLRPSchedulingInfo) EffectiveRestartPolicy() RestartPolicy {
	return EffectiveRestartPolicy(s.RestartPolicy)
}

// NewCrashCount is the crash count after one more crash: prev+1, or 1 when the
// instance had been RUNNING (wasRunning, since runningSince) for longer than
// ResetAfterMs when it crashed at now.
func (p RestartPolicy) NewCrashCount(prev int, runningSince, now time.Time, wasRunning bool) int {
	if wasRunning && now.Sub(runningSince) > msDuration(p.ResetAfterMs) {
		return 1
	}
	if prev < 0 {
		prev = 0
	}
	return prev + 1
}

// ShouldRestartImmediately reports whether an instance that has crashed count
// times goes straight back to UNCLAIMED (count below ImmediateRestarts)
// rather than waiting CRASHED.
func (p RestartPolicy) ShouldRestartImmediately(count int) bool {
	return count < p.ImmediateRestarts && count < p.MaxRestarts
}

// StateAfterCrash is UNCLAIMED for an immediate restart, else CRASHED.
func (p RestartPolicy) StateAfterCrash(count int) string {
	if p.ShouldRestartImmediately(count) {
		return ActualLRPStateUnclaimed
	}
	return ActualLRPStateCrashed
}

// RestartDelay is how long a CRASHED instance with this count waits:
// 0 while restarts are immediate, then min(base * 2^(count-immediate), max).
func (p RestartPolicy) RestartDelay(count int) time.Duration {
	if count < p.ImmediateRestarts {
		return 0
	}
	base, limit := msDuration(p.BaseBackoffMs), msDuration(p.MaxBackoffMs)
	if base <= 0 {
		return 0
	}
	delay := base
	for i := p.ImmediateRestarts; i < count && delay < limit; i++ {
		if delay > limit/2 {
			delay = limit
			break
		}
		delay *= 2
	}
	return min(delay, limit)
}

// msDuration converts milliseconds to a Duration, saturating instead of
// overflowing for absurd values.
func msDuration(ms int64) time.Duration {
	const maxMs = int64(math.MaxInt64 / int64(time.Millisecond))
	if ms > maxMs {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ms) * time.Millisecond
}

// GivesUp reports whether an instance that has crashed count times stays
// CRASHED for good (count reached MaxRestarts).
func (p RestartPolicy) GivesUp(count int) bool {
	return count >= p.MaxRestarts
}

// RestartAt is when a CRASHED record becomes due for a restart, and false if
// it never will (it gave up, or it is not CRASHED).
func (p RestartPolicy) RestartAt(lrp *ActualLRP) (time.Time, bool) {
	if lrp.State != ActualLRPStateCrashed || p.GivesUp(lrp.CrashCount) {
		return time.Time{}, false
	}
	return time.Unix(0, lrp.Since).Add(p.RestartDelay(lrp.CrashCount)), true
}

// ShouldRestartCrashed reports whether a CRASHED record is due for its
// restart at now: its backoff since `since` has passed and it has not given up.
func (p RestartPolicy) ShouldRestartCrashed(lrp *ActualLRP, now time.Time) bool {
	at, ok := p.RestartAt(lrp)
	return ok && !now.Before(at)
}
