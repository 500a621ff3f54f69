package executor

// readinessGate decides an LRP container's routable flag from two facts that
// arrive in either order: its liveness checks passed (it is RUNNING) and its
// readiness checks pass. It is routable exactly when it is RUNNING and, if it
// has readiness checks, the last readiness result was a pass. A readiness
// result on a container that is not RUNNING yet is remembered, not reported:
// only the liveness checks make a record RUNNING.
//
// An adopted instance was serving before the cell restarted. Reporting it
// RUNNING before its readiness checks have given a first result would withdraw
// its route for one check interval, so with holdForReadiness the RUNNING
// report waits for that first result (pass or fail).
//
// Every field after e and guid is only read and written with the executor's
// mu held.
type readinessGate struct {
	e                *Executor
	guid             string
	readiness        bool // the container has readiness checks
	holdForReadiness bool // adopted: report RUNNING only once readiness is known
	ready            bool // the last readiness result
	known            bool // a readiness result has arrived
	live             bool // the liveness checks passed
}

// running records that the liveness checks passed (or that there are none and
// the process started) and reports RUNNING unless it must wait for readiness.
func (g *readinessGate) running() {
	g.e.mu.Lock()
	defer g.e.mu.Unlock()
	g.live = true
	if g.holdForReadiness && g.readiness && !g.known {
		return
	}
	g.markRunning()
}

// changed records a readiness result; it emits EventRoutable only when a
// RUNNING container's routable flag changes, or reports a held RUNNING.
func (g *readinessGate) changed(ready bool) {
	g.e.mu.Lock()
	defer g.e.mu.Unlock()
	first := !g.known
	g.ready, g.known = ready, true
	c, ok := g.e.containers[g.guid]
	if !ok {
		return
	}
	if first && g.holdForReadiness && g.live && c.State != StateRunning {
		g.markRunning()
		return
	}
	if c.State != StateRunning || c.Routable == ready {
		return
	}
	c.Routable = ready
	g.e.emit(EventRoutable, c.Container)
}

// markRunning makes the container RUNNING and emits EventRunning; mu is held.
func (g *readinessGate) markRunning() {
	c, ok := g.e.containers[g.guid]
	if !ok {
		return
	}
	c.State = StateRunning
	c.RunningSince = g.e.clock.Now()
	c.Routable = !g.readiness || g.ready
	g.e.emit(EventRunning, c.Container)
}
