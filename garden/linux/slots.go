package linux

import "context"

// slots is a counting semaphore; waiters are served in arrival order.
type slots chan struct{}

// take waits for a free slot; it fails only when ctx ends first.
func (s slots) take(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s slots) give() { <-s }
