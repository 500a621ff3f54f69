package router

import (
	"math/rand/v2"
	"time"
)

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

// pickRetry chooses the endpoint for another attempt after a failure. Among
// the endpoints usable for the request it prefers, in this order: one not
// held off; one on a host where no attempt of the request failed (a vanished
// cell takes every endpoint on its address with it); the one that answered
// most recently, which is the likeliest to be alive. Round-robin order is
// no guide here: an emitter registers a cell's instances together, so the
// next endpoint in the pool often lives on the same dead cell.
func pickRetry(pool *Pool, usable func(*Endpoint) bool, failedHost func(string) bool, now time.Time) *Endpoint {
	pool.mu.RLock()
	defer pool.mu.RUnlock()
	n := len(pool.endpoints)
	if n == 0 {
		return nil
	}
	// A random start spreads ties (endpoints that never answered).
	start := rand.IntN(n)
	var best *Endpoint
	bestRank, bestAnswered := -1, int64(0)
	for i := 0; i < n; i++ {
		e := pool.endpoints[(start+i)%n]
		if !usable(e) {
			continue
		}
		rank := 0
		if !e.heldOff(now) {
			rank += 2
		}
		if !failedHost(e.host()) {
			rank++
		}
		answered := e.answeredAtNs.Load()
		if rank > bestRank || (rank == bestRank && answered > bestAnswered) {
			best, bestRank, bestAnswered = e, rank, answered
		}
	}
	return best
}
