package linux

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"time"

	"github.com/vishvananda/netns"

	"github.com/diego-runtime/diego/garden"
)

// dialTimeout bounds a connect from inside a container.
const dialTimeout = 10 * time.Second

// Dial connects to address from inside the container's network namespace:
// the socket is made there, so it leaves by the container's own routes and
// eth0, through the same perimeter as the container's traffic, and
// localhost is the container's loopback. Nothing listens in the container.
func (b *Backend) Dial(ctx context.Context, handle, address string) (net.Conn, error) {
	c, err := b.lookup(handle)
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, garden.NewInvalidSpecError("dial address %q: %v", address, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	// An address, never a name: resolving would use the host's resolver.
	if ip := net.ParseIP(host); ip == nil {
		return nil, garden.NewInvalidSpecError("dial address %q: the host must be an IP address or localhost", address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, garden.NewInvalidSpecError("dial address %q: bad port", address)
	}
	c.mu.Lock()
	c.noticeInitExitLocked()
	active, pid := c.state == garden.StateActive, c.initPid
	c.mu.Unlock()
	if !active {
		// Init is garden's child and reaped only by garden: while the
		// container is active its pid names its init.
		return nil, garden.NewInvalidSpecError("container %s is not active", handle)
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := dialInNetns(ctx, fmt.Sprintf("/proc/%d/ns/net", pid), net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("dialing %s in container %s: %w", address, handle, err)
	}
	return conn, nil
}

// dialInNetns makes the socket on a thread switched into the namespace at
// path, and switches the thread back; a thread that cannot be switched back
// is never reused (it ends with its locked goroutine).
func dialInNetns(ctx context.Context, path, address string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("opening garden's own netns: %w", err)}
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("opening netns %s: %w", path, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("entering netns %s: %w", path, err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", address)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}
