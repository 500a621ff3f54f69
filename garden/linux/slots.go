package linux

import (
	"context"
	"errors"
)

// slots is a counting semaphore; waiters are served in arrival order.
type slots chan struct{}

// errClosing is take's answer when stop closes first.
var errClosing = errors.New("garden is shutting down")

// take waits for a free slot; it fails when ctx ends or stop (nil: never)
// closes first.
func (s slots) take(ctx context.Context, stop <-chan struct{}) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errClosing
	}
}

func (s slots) give() { <-s }
