package router

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diego-runtime/diego/routing/messages"
)

// Endpoint is one backend address under one hostname.
type Endpoint struct {
	// Addr is "host:port", the key within a pool.
	Addr string
	// App, InstanceID and InstanceIndex come from the registration, for logs.
	App           string
	InstanceID    string
	InstanceIndex string

	// Guarded by the owning Pool's lock.
	refreshedAt    time.Time
	staleAfter     time.Duration // 0: the table's threshold
	updatedAtNs    int64         // the publisher's endpoint_updated_at_ns
	failedUntilNs  atomic.Int64  // unix ns; written without the pool lock
	answeredAtNs   atomic.Int64  // unix ns of the last response; written without the pool lock
	positionInPool int
}

// heldOff reports whether the endpoint failed recently enough to be skipped.
func (e *Endpoint) heldOff(now time.Time) bool { return e.failedUntilNs.Load() > now.UnixNano() }

// markFailed keeps the endpoint out of selection until the given time.
func (e *Endpoint) markFailed(until time.Time) { e.failedUntilNs.Store(until.UnixNano()) }

// markAnswered notes a response: the endpoint is alive, so any holdoff ends.
func (e *Endpoint) markAnswered(at time.Time) {
	e.answeredAtNs.Store(at.UnixNano())
	if e.failedUntilNs.Load() != 0 {
		e.failedUntilNs.Store(0)
	}
}

// host is the address part of Addr: endpoints sharing it share a machine.
func (e *Endpoint) host() string {
	if i := strings.LastIndexByte(e.Addr, ':'); i >= 0 {
		return e.Addr[:i]
	}
	return e.Addr
}

// Pool is the set of endpoints behind one hostname.
type Pool struct {
	mu        sync.RWMutex
	endpoints []*Endpoint
	byAddr    map[string]*Endpoint
	next      atomic.Uint64 // round-robin cursor
}

func newPool() *Pool { return &Pool{byAddr: map[string]*Endpoint{}} }

// Len is the number of endpoints in the pool (0 for a nil pool).
func (p *Pool) Len() int {
	if p == nil {
		return 0
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.endpoints)
}

// Endpoints returns a copy of the pool's endpoints.
func (p *Pool) Endpoints() []*Endpoint {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]*Endpoint(nil), p.endpoints...)
}

func (p *Pool) remove(e *Endpoint) {
	last := len(p.endpoints) - 1
	moved := p.endpoints[last]
	p.endpoints[e.positionInPool] = moved
	moved.positionInPool = e.positionInPool
	p.endpoints[last] = nil
	p.endpoints = p.endpoints[:last]
	delete(p.byAddr, e.Addr)
}

// Table maps normalized hostnames to pools. It is safe for concurrent use:
// lookups share a read lock, updates are serialised.
type Table struct {
	mu             sync.RWMutex
	pools          map[string]*Pool
	staleThreshold time.Duration
	endpoints      int
}

// NewTable returns an empty table that prunes endpoints not refreshed within
// staleThreshold.
func NewTable(staleThreshold time.Duration) *Table {
	return &Table{pools: map[string]*Pool{}, staleThreshold: staleThreshold}
}

// Lookup returns the pool for a normalized hostname, or nil.
func (t *Table) Lookup(host string) *Pool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.pools[host]
}

// Size returns the number of hostnames and of endpoints (counted once per
// hostname).
func (t *Table) Size() (hosts, endpoints int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.pools), t.endpoints
}

// Snapshot returns every hostname with its endpoint addresses.
func (t *Table) Snapshot() map[string][]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[string][]string, len(t.pools))
	for host, pool := range t.pools {
		pool.mu.RLock()
		addrs := make([]string, len(pool.endpoints))
		for i, e := range pool.endpoints {
			addrs[i] = e.Addr
		}
		pool.mu.RUnlock()
		out[host] = addrs
	}
	return out
}

// Change says what an update did.
type Change int

// Possible results of Register and Unregister.
const (
	Unchanged Change = iota // stale message (older endpoint_updated_at_ns) or nothing to remove
	Added
	Refreshed
	Removed
)

// Register adds or refreshes the endpoint of msg under host (already
// normalized) at time now.
func (t *Table) Register(host string, msg messages.RegistryMessage, now time.Time) Change {
	addr := msg.Address()
	t.mu.Lock()
	defer t.mu.Unlock()
	pool := t.pools[host]
	if pool == nil {
		pool = newPool()
		t.pools[host] = pool
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	staleAfter := time.Duration(msg.StaleThresholdInSeconds) * time.Second
	if staleAfter <= 0 || staleAfter > t.staleThreshold {
		staleAfter = 0
	}
	if e := pool.byAddr[addr]; e != nil {
		if msg.EndpointUpdatedAtNs != 0 && msg.EndpointUpdatedAtNs < e.updatedAtNs {
			return Unchanged
		}
		e.refreshedAt, e.staleAfter = now, staleAfter
		e.App, e.InstanceID, e.InstanceIndex = msg.App, msg.PrivateInstanceID, msg.PrivateInstanceIndex
		if msg.EndpointUpdatedAtNs != 0 {
			e.updatedAtNs = msg.EndpointUpdatedAtNs
		}
		return Refreshed
	}
	e := &Endpoint{Addr: addr, App: msg.App, InstanceID: msg.PrivateInstanceID,
		InstanceIndex: msg.PrivateInstanceIndex, refreshedAt: now, staleAfter: staleAfter,
		updatedAtNs: msg.EndpointUpdatedAtNs, positionInPool: len(pool.endpoints)}
	pool.endpoints = append(pool.endpoints, e)
	pool.byAddr[addr] = e
	t.endpoints++
	return Added
}

// Unregister removes the endpoint of msg from host (already normalized),
// unless the message is older than the registration it would remove.
func (t *Table) Unregister(host string, msg messages.RegistryMessage) Change {
	addr := msg.Address()
	t.mu.Lock()
	defer t.mu.Unlock()
	pool := t.pools[host]
	if pool == nil {
		return Unchanged
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	e := pool.byAddr[addr]
	if e == nil || (msg.EndpointUpdatedAtNs != 0 && msg.EndpointUpdatedAtNs < e.updatedAtNs) {
		return Unchanged
	}
	pool.remove(e)
	t.endpoints--
	if len(pool.endpoints) == 0 {
		delete(t.pools, host)
	}
	return Removed
}

// Prune removes every endpoint not refreshed within its threshold as of now
// and returns how many it removed. It locks one pool at a time so that
// lookups are never held up for a whole sweep.
func (t *Table) Prune(now time.Time) int {
	t.mu.RLock()
	hosts := make([]string, 0, len(t.pools))
	for host := range t.pools {
		hosts = append(hosts, host)
	}
	t.mu.RUnlock()

	pruned := 0
	for _, host := range hosts {
		pruned += t.prunePool(host, now)
	}
	return pruned
}

func (t *Table) prunePool(host string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	pool := t.pools[host]
	if pool == nil {
		return 0
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	pruned := 0
	for i := len(pool.endpoints) - 1; i >= 0; i-- {
		e := pool.endpoints[i]
		threshold := t.staleThreshold
		if e.staleAfter > 0 {
			threshold = e.staleAfter
		}
		if now.Sub(e.refreshedAt) > threshold {
			pool.remove(e)
			pruned++
		}
	}
	t.endpoints -= pruned
	if len(pool.endpoints) == 0 {
		delete(t.pools, host)
	}
	return pruned
}
