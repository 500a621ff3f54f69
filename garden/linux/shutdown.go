package linux

import (
	"context"
	"errors"
	"fmt"

	"github.com/diego-runtime/diego/garden"
)

// Shutdown waits out the creates under way, then destroys every container and
// removes the bridge, the chains and the cgroup parent. A garden that simply
// exits leaves its containers for the next start to clean.
func (b *Backend) Shutdown(ctx context.Context) error {
	var errs []error
	if err := b.endCreates(ctx); err != nil {
		errs = append(errs, err)
	}
	handles, _ := b.List(ctx, nil)
	for _, h := range handles {
		if err := b.Destroy(ctx, h); err != nil && !errors.Is(err, garden.ErrContainerNotFound) {
			errs = append(errs, err)
		}
	}
	b.netPool.drain()
	errs = append(errs, b.ipt.removeAll(ctx), b.net.teardownBridge())
	errs = append(errs, b.cgroups.removeAll())
	errs = append(errs, b.unmountRunDir())
	if b.uids != nil {
		b.uids.close(b.logger)
	}
	return errors.Join(errs...)
}

// beginCreate counts a create in flight; false once Shutdown began.
func (b *Backend) beginCreate() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.closed:
		return false
	default:
		b.creating.Add(1)
		return true
	}
}

// endCreates refuses new creates, ends the waits for a create slot and waits
// for the creates already under way, so that Shutdown sees their containers.
func (b *Backend) endCreates(ctx context.Context) error {
	b.mu.Lock()
	select {
	case <-b.closed: // a second Shutdown
	default:
		close(b.closed)
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.creating.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for creates under way: %w", ctx.Err())
	}
}
