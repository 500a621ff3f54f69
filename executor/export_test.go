package executor

// SubscribeWithBuffer is Subscribe with a chosen buffer, so that a spec can
// make a subscriber fall behind with a few containers rather than a thousand.
func (e *Executor) SubscribeWithBuffer(n int) (<-chan Event, func()) {
	return e.subscribe(n)
}
