package router

import "time"

// Selector picks the endpoint for the next attempt at a request. usable says
// whether the caller may still try an endpoint (not tried yet for this
// request); a selector returns nil when none is usable.
type Selector interface {
	Select(pool *Pool, usable func(*Endpoint) bool, now time.Time) *Endpoint
}

// RoundRobin hands out a pool's endpoints in turn. Endpoints that failed
// recently (held off) are skipped, unless they are all that is left to try.
type RoundRobin struct{}

// Select implements Selector.
func (RoundRobin) Select(pool *Pool, usable func(*Endpoint) bool, now time.Time) *Endpoint {
	pool.mu.RLock()
	defer pool.mu.RUnlock()
	n := uint64(len(pool.endpoints))
	if n == 0 {
		return nil
	}
	start := pool.next.Add(1) - 1
	var fallback *Endpoint
	for i := uint64(0); i < n; i++ {
		e := pool.endpoints[(start+i)%n]
		if !usable(e) {
			continue
		}
		if e.heldOff(now) {
			if fallback == nil {
				fallback = e
			}
			continue
		}
		return e
	}
	return fallback
}
