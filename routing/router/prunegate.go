package router

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a prune sweep is skipped, as logged.
const (
	suspendedNATSDown      = "nats_disconnected"
	suspendedNATSBack      = "nats_reconnected_recently"
	suspendedSilence       = "publishers_silent"
	suspendedSilenceEnding = "publishers_resumed_recently"
)

// pruneGate decides whether a prune sweep may run. Pruning removes endpoints
// whose registrations stopped; it must not remove them when the router
// simply cannot hear registrations. So a sweep is skipped:
//
//   - while the router is disconnected from NATS, and for grace (one prune
//     interval) after it reconnects, so that publishers answering its
//     router.start have time to refresh every endpoint;
//   - while no registration at all has arrived for silence (every
//     publisher stopped at once: the route emitter lost its lock, or cannot
//     reach NATS), and for grace after registrations resume.
//
// It is safe for concurrent use: NATS callbacks and the message handler
// report to it while Run asks it before each sweep.
type pruneGate struct {
	grace   time.Duration
	silence time.Duration // 0: publishers' silence does not suspend pruning

	mu          sync.Mutex
	connected   bool
	connectedAt time.Time
	heardAt     time.Time // last registration applied; zero: none yet
	resumedAt   time.Time // first registration after a silence
	suspended   string    // reason of the last skipped sweep, "" if it ran
}

func newPruneGate(grace, silence time.Duration) *pruneGate {
	return &pruneGate{grace: grace, silence: silence}
}

// natsUp records that the NATS connection is (again) established at now.
func (g *pruneGate) natsUp(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.connected {
		g.connected, g.connectedAt = true, now
	}
}

// natsDown records that the NATS connection is lost.
func (g *pruneGate) natsDown() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.connected = false
}

// heard records a registration applied at now.
func (g *pruneGate) heard(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.silence > 0 && !g.heardAt.IsZero() && now.Sub(g.heardAt) > g.silence {
		g.resumedAt = now
	}
	g.heardAt = now
}

// allow reports whether a sweep may run at now and, if not, why.
func (g *pruneGate) allow(now time.Time) (ok bool, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !g.connected:
		reason = suspendedNATSDown
	case now.Sub(g.connectedAt) < g.grace:
		reason = suspendedNATSBack
	case g.silence > 0 && !g.heardAt.IsZero() && now.Sub(g.heardAt) > g.silence:
		reason = suspendedSilence
	case !g.resumedAt.IsZero() && now.Sub(g.resumedAt) < g.grace:
		reason = suspendedSilenceEnding
	}
	g.suspended = reason
	return reason == "", reason
}

// isSuspended reports whether the last sweep was skipped, for the gauge.
func (g *pruneGate) isSuspended() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.suspended != ""
}

// isConnected reports the NATS connection as last recorded, for the gauge.
func (g *pruneGate) isConnected() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.connected
}

func (g *pruneGate) collectors() []prometheus.Collector {
	gauge := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "diego_router_nats_connected",
			Help: "1 while the router is connected to NATS.",
		}, func() float64 { return gauge(g.isConnected()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "diego_router_pruning_suspended",
			Help: "1 if the last prune sweep was skipped (NATS away or every publisher silent).",
		}, func() float64 { return gauge(g.isSuspended()) }),
	}
}
