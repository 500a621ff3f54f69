package executor

// readinessGate decides an LRP container's routable flag from two facts that
// arrive in either order: its liveness checks passed (it is RUNNING) and its
// readiness checks pass. It is routable exactly when it is RUNNING and, if it
// has readiness checks, the last readiness result was a pass. A readiness
// result on a container that is not RUNNING yet is remembered, not reported:
// only the liveness checks make a record RUNNING.
//
// ready is only read and written with the executor's mu held.
type readinessGate struct {
	e         *Executor
	guid      string
	readiness bool // the container has readiness checks
	ready     bool // the last readiness result
}

// running marks the container RUNNING (its liveness checks passed, or it has
// none and its process started) and emits EventRunning.
func (g *readinessGate) running() {
	now := g.e.clock.Now()
	g.e.update(g.guid, EventRunning, func(c *Container) {
		c.State = StateRunning
		c.RunningSince = now
		c.Routable = !g.readiness || g.ready
	})
}

// changed records a readiness result; it emits EventRoutable only when a
// RUNNING container's routable flag changes.
func (g *readinessGate) changed(ready bool) {
	g.e.mu.Lock()
	defer g.e.mu.Unlock()
	g.ready = ready
	c, ok := g.e.containers[g.guid]
	if !ok || c.State != StateRunning || c.Routable == ready {
		return
	}
	c.Routable = ready
	g.e.emit(EventRoutable, c.Container)
}
