package image

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"code.cloudfoundry.org/lager/v3"
	"golang.org/x/sys/unix"
)

// Formatting a container's file system (copying the template, attaching a
// loop device, mounting the ext4) took about 11 ms of a 57 ms create on the
// development machine, and 45 ms at the median with 8 creates at a time, the
// loop and mount calls waiting on locks that every other mount and unmount
// on the machine takes too. Releasing one (the ext4 and overlay unmounts, the
// loop device's teardown) took longer still. Neither has to happen while a
// create or a destroy waits:
//
//   - the pool keeps up to DiskPoolDepth file systems of each recently used
//     size formatted and mounted, detached (fsmount descriptors held only by
//     garden), and formats more in the background as creates take them; a
//     create moves one over its directory (one move_mount), or formats one
//     itself when none is ready;
//   - a destroy detaches the container's mounts (MNT_DETACH, so they are gone
//     from every path at once) while holding a descriptor of each, and the
//     pool closes the descriptors in the background: the last close is when
//     the kernel tears the file systems down and frees the loop device and
//     its unnamed file.
//
// A pooled file system has no path and no name on disk, so a garden that
// dies leaves nothing of its pool: the kernel closes the descriptors, and the
// rest follows as above.

// DefaultDiskPoolDepth is how many file systems of one size the pool keeps
// ready unless StoreConfig.DiskPoolDepth says otherwise: one burst of
// creates at the concurrency a cell sees (8 at a time in the benchmark).
const DefaultDiskPoolDepth = 8

// maxPooledSizes bounds how many distinct sizes the pool keeps ready: the
// most recently requested ones. A cell's containers mostly share the
// operator's default limit.
const maxPooledSizes = 3

// diskPool keeps formatted file systems ready and releases used ones, both
// in the background. It is safe for concurrent use.
type diskPool struct {
	logger lager.Logger
	disks  *disks
	depth  int

	mu      sync.Mutex
	idle    *sync.Cond      // signalled when busy drops to 0
	ready   map[int64][]int // size -> detached mounts, oldest first
	sizes   []int64         // sizes kept ready, most recently requested first
	filling map[int64]bool  // a filler runs for the size
	busy    int             // fillers and releases in flight
	stopped bool            // no more fills: draining or closed
}

func newDiskPool(logger lager.Logger, d *disks, depth int) *diskPool {
	p := &diskPool{logger: logger.Session("disk-pool"), disks: d, depth: depth, ready: map[int64][]int{}, filling: map[int64]bool{}}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// attach mounts a file system of size bytes over dir: a ready one if the
// pool has it, else one formatted now. Either way the pool then fills up
// for size in the background.
func (p *diskPool) attach(ctx context.Context, dir string, size int64) error {
	mnt := p.take(size)
	if mnt < 0 {
		var err error
		if mnt, err = p.disks.format(ctx, size); err != nil {
			return err
		}
	}
	return attachDisk(mnt, dir)
}

// take returns a ready file system of size bytes, or -1, and starts a filler
// for size. It forgets the least recently requested size past maxPooledSizes.
func (p *diskPool) take(size int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.depth <= 0 || size < MinDiskBytes {
		return -1
	}
	if i := slices.Index(p.sizes, size); i >= 0 {
		p.sizes = slices.Delete(p.sizes, i, i+1)
	}
	p.sizes = slices.Insert(p.sizes, 0, size)
	if len(p.sizes) > maxPooledSizes {
		for _, old := range p.sizes[maxPooledSizes:] {
			p.releaseLocked(p.ready[old]...)
			delete(p.ready, old)
		}
		p.sizes = p.sizes[:maxPooledSizes]
	}
	mnt := -1
	if q := p.ready[size]; len(q) > 0 {
		mnt, p.ready[size] = q[0], q[1:]
	}
	// Refill in batches, from half empty: a create that runs beside a
	// refill shares the CPU and the loop and mount locks with it, and
	// batches leave most creates alone. The first take of a size fills.
	if !p.filling[size] && !p.stopped && len(p.ready[size]) <= p.depth/2 {
		p.filling[size] = true
		p.busy++
		go p.fill(size)
	}
	return mnt
}

// fill formats file systems of size until the pool holds depth of them, the
// size is no longer kept, or the pool stops. A failure ends it (logged); the
// next take starts another.
func (p *diskPool) fill(size int64) {
	p.background()
	defer func() {
		p.mu.Lock()
		delete(p.filling, size)
		p.doneLocked()
		p.mu.Unlock()
	}()
	for {
		p.mu.Lock()
		want := !p.stopped && slices.Contains(p.sizes, size) && len(p.ready[size]) < p.depth
		p.mu.Unlock()
		if !want {
			return
		}
		mnt, err := p.disks.format(context.Background(), size)
		if err != nil {
			p.logger.Error("format-failed", err, lager.Data{"size": size})
			return
		}
		p.mu.Lock()
		if p.stopped || !slices.Contains(p.sizes, size) {
			p.releaseLocked(mnt)
		} else {
			p.ready[size] = append(p.ready[size], mnt)
		}
		p.mu.Unlock()
	}
}

// release closes mounts in the background (see the top of the file).
func (p *diskPool) release(mnts ...int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(mnts...)
}

func (p *diskPool) releaseLocked(mnts ...int) {
	if len(mnts) == 0 {
		return
	}
	p.busy++
	go func() {
		p.background()
		for _, fd := range mnts {
			if err := unix.Close(fd); err != nil {
				p.logger.Error("release-failed", err, lager.Data{"fd": fd})
			}
		}
		p.mu.Lock()
		p.doneLocked()
		p.mu.Unlock()
	}()
}

func (p *diskPool) doneLocked() {
	p.busy--
	if p.busy == 0 {
		p.idle.Broadcast()
	}
}

// wait returns once no filler and no release runs.
func (p *diskPool) wait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.busy > 0 {
		p.idle.Wait()
	}
}

// drain stops the fillers, releases every ready file system and waits until
// all of it is gone. Unless closing, the pool fills again on the next take.
func (p *diskPool) drain(closing bool) {
	p.mu.Lock()
	p.stopped = true
	for size, q := range p.ready {
		p.releaseLocked(q...)
		delete(p.ready, size)
	}
	for p.busy > 0 {
		p.idle.Wait()
	}
	// A filler that raced the stop released what it made; nothing is left.
	p.stopped = closing
	p.mu.Unlock()
}

// readyCount is how many file systems are ready, of every size.
func (p *diskPool) readyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, q := range p.ready {
		n += len(q)
	}
	return n
}

// detachAll detaches the mounts (deepest first) from every path at once, and
// hands a descriptor of each to the pool, whose closing in the background
// frees them. A mount that cannot be opened is unmounted in place.
func (p *diskPool) detachAll(mounts []string) error {
	var held []int
	defer func() { p.release(held...) }()
	for _, m := range mounts {
		fd, err := unix.Open(m, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if uerr := unmount(m); uerr != nil {
				return fmt.Errorf("opening %s to release it: %w; %w", m, err, uerr)
			}
			continue
		}
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			unix.Close(fd)
			return fmt.Errorf("detaching %s: %w", m, err)
		}
		held = append(held, fd)
	}
	return nil
}

// background lowers the calling goroutine's thread to the lowest CPU
// priority and keeps the goroutine on it: formatting and releasing file
// systems gives way to creates. The thread ends with the goroutine (it is
// never unlocked), so no other goroutine inherits the priority.
func (p *diskPool) background() {
	runtime.LockOSThread()
	if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19); err != nil {
		// At worst the work runs at normal priority.
		p.logger.Error("lowering-priority-failed", err)
	}
}
