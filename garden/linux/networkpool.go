package linux

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Under 8 creates at a time the veth of a container took 16-35 ms, most of it
// waiting for the kernel's rtnl lock, which every runc run (a new network
// namespace) and every destroyed container (its namespace's teardown) hold in
// turn. None of it depends on what the container runs, so the network pool
// does it ahead, in the background, for unprivileged containers:
//
//   - an entry is a user namespace mapping 0..65535 to a uid range and a
//     network namespace that user namespace owns (one traced process makes
//     both, as image.NewUserNamespace does), with the veth pair already made:
//     the host end isolated on the bridge, eth0 inside addressed with a
//     subnet index the entry holds, lo up, the default route set;
//   - a create takes an entry (its index and, with per-container ranges, its
//     uid slot become the container's) and runc joins both namespaces by
//     path instead of making them. The network namespace still belongs to
//     the container's user namespace, so everything that relies on that
//     holds: a fresh sysfs shows its devices only, runc writes its sysctls;
//   - the pool refills in batches from half empty, at the lowest CPU
//     priority (as the disk pool does) and once the create that took the
//     entry is done, keeps at most network_pool_size,
//     and gives everything back at shutdown. A garden that dies leaves
//     host veths named like containers' ones, which the next start removes
//     with the other strays; the namespaces were held only by descriptors.
//
// Rules are the container's as before: its iptables chains are made at create
// from its index and address; the perimeter matches the bridge, so it covers
// an entry from the moment its host end joins the bridge.
type networkPool struct {
	logger lager.Logger
	b      *Backend
	size   int
	misses atomic.Int64 // takes that found no entry ready

	mu      sync.Mutex
	idle    *sync.Cond
	ready   []*pooledNet
	seq     int
	filling bool
	busy    int  // fillers in flight
	stopped bool // no more fills: not started, draining or closed
}

// pooledNet is one entry of the pool.
type pooledNet struct {
	key      string // holder of its index and uid slot until a create takes it
	index    int
	slot     int // uid slot, -1 with shared ranges
	hostRoot uint32
	userns   *os.File
	netns    *os.File
}

func newNetworkPool(logger lager.Logger, b *Backend, size int) *networkPool {
	p := &networkPool{logger: logger.Session("network-pool"), b: b, size: size, stopped: true}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// nsPath is the path runc opens to join ns: garden's own descriptor.
func nsPath(ns *os.File) string {
	return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(int(ns.Fd()))
}

// start lets the pool fill, and fills it.
func (p *networkPool) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.size <= 0 {
		return
	}
	p.stopped = false
	p.fillLocked()
}

// take returns a ready entry, or nil.
func (p *networkPool) take() *pooledNet {
	p.mu.Lock()
	defer p.mu.Unlock()
	var e *pooledNet
	if n := len(p.ready); n > 0 {
		e, p.ready = p.ready[n-1], p.ready[:n-1]
	} else if p.size > 0 {
		p.misses.Add(1)
	}
	return e
}

// refill starts a filler from half empty. Creates call it once they are
// done, so a filler started by a create does not run beside it.
func (p *networkPool) refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ready) <= p.size/2 {
		p.fillLocked()
	}
}

// put gives back an entry a create took but did not use (its reserve failed).
func (p *networkPool) put(e *pooledNet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || len(p.ready) >= p.size {
		p.discard(e)
		return
	}
	p.ready = append(p.ready, e)
}

// shrink discards one ready entry, freeing its index and uid slot for a
// create that found none free; it reports whether there was one. A filler
// may hold the last slot while it makes an entry: shrink waits for it.
func (p *networkPool) shrink() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.busy > 0 {
		p.idle.Wait()
	}
	if len(p.ready) == 0 {
		return false
	}
	e := p.ready[0]
	p.ready = p.ready[1:]
	p.discard(e)
	return true
}

func (p *networkPool) fillLocked() {
	if p.filling || p.stopped {
		return
	}
	p.filling = true
	p.busy++
	go p.fill()
}

// fill makes entries until the pool holds size of them or stops. A failure
// ends it (logged); the next take starts another.
func (p *networkPool) fill() {
	// The thread ends with the goroutine (never unlocked), so no other
	// goroutine inherits its priority; the holder processes do.
	runtime.LockOSThread()
	if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19); err != nil {
		p.logger.Error("lowering-priority-failed", err)
	}
	defer func() {
		p.mu.Lock()
		p.filling = false
		p.doneLocked()
		p.mu.Unlock()
	}()
	for {
		p.mu.Lock()
		want := !p.stopped && len(p.ready) < p.size
		p.seq++
		key, held := "net-pool/"+strconv.Itoa(p.seq), len(p.ready) // no handle has a '/'
		p.mu.Unlock()
		if !want {
			return
		}
		e, err := p.make(key, held)
		if errors.Is(err, garden.ErrOutOfCapacity) {
			// The containers use what is left; a destroy frees it again.
			p.logger.Info("full", lager.Data{"reason": err.Error()})
			return
		}
		if err != nil {
			p.logger.Error("fill-failed", err)
			return
		}
		p.mu.Lock()
		if p.stopped || len(p.ready) >= p.size {
			p.discard(e)
		} else {
			p.ready = append(p.ready, e)
		}
		p.mu.Unlock()
	}
}

// make claims a subnet index and a uid slot for key and makes the entry,
// unless the containers and the held entries already reach max_containers.
func (p *networkPool) make(key string, held int) (*pooledNet, error) {
	b := p.b
	b.mu.Lock()
	full := uint64(len(b.containers)+len(b.reserved)+held) >= b.cfg.MaxContainers
	var index int
	var err error
	if !full {
		index, err = b.allocateIP(key)
	}
	b.mu.Unlock()
	if full {
		return nil, garden.NewOutOfCapacityError("max_containers reached")
	}
	if err != nil {
		return nil, err
	}
	e := &pooledNet{key: key, index: index, slot: -1, hostRoot: b.cfg.UIDMapStart}
	if err := p.wire(e); err != nil {
		p.discard(e)
		return nil, err
	}
	return e, nil
}

// wire gives e a uid slot (with per-container ranges), its namespaces and
// its veth.
func (p *networkPool) wire(e *pooledNet) error {
	b := p.b
	if b.uids != nil {
		slot, err := b.uids.acquire(e.key)
		if err != nil {
			return err
		}
		e.slot, e.hostRoot = slot, b.uids.start(slot)
		// The slot's idmapping namespace, made now rather than by the create.
		if _, err := b.uids.namespace(slot); err != nil {
			return err
		}
	}
	m := []image.IDMapping{{ContainerID: 0, HostID: e.hostRoot, Size: mappedUsersSize}}
	ns, err := image.HoldNamespaces(syscall.CLONE_NEWUSER|syscall.CLONE_NEWNET, m, m, "user", "net")
	if err != nil {
		return err
	}
	e.userns, e.netns = ns[0], ns[1]
	if err := b.net.wire(netns.NsHandle(e.netns.Fd()), e.index); err != nil {
		return fmt.Errorf("wiring pooled network %d: %w", e.index, err)
	}
	return nil
}

// discard removes an entry's host veth (the pair goes with it), closes its
// namespaces and frees what it holds under its key.
func (p *networkPool) discard(e *pooledNet) {
	if err := p.b.net.destroy(e.index); err != nil {
		p.logger.Error("discard-failed", err, lager.Data{"index": e.index})
	}
	e.close()
	if e.slot >= 0 {
		p.b.uids.release(e.key)
	}
	p.b.release(e.key, e.index, nil)
}

// close closes the entry's namespaces: once a container joined them (or the
// entry is discarded) garden needs them no more.
func (e *pooledNet) close() {
	for _, f := range []*os.File{e.userns, e.netns} {
		if f != nil {
			f.Close()
		}
	}
	e.userns, e.netns = nil, nil
}

func (p *networkPool) doneLocked() {
	p.busy--
	if p.busy == 0 {
		p.idle.Broadcast()
	}
}

// wait returns once no filler runs.
func (p *networkPool) wait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.busy > 0 {
		p.idle.Wait()
	}
}

// drain stops filling and discards every ready entry.
func (p *networkPool) drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for p.busy > 0 {
		p.idle.Wait()
	}
	for _, e := range p.ready {
		p.discard(e)
	}
	p.ready = nil
}

// readyCount is how many entries are ready.
func (p *networkPool) readyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}
