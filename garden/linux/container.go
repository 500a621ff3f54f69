package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"golang.org/x/sys/unix"
)

// container is one live container.
type container struct {
	handle     string
	spec       garden.ContainerSpec
	dir        string // bundle: config.json, process files, pid files
	rootfs     string
	imgConfig  image.Config
	index      int    // subnet index
	hostRoot   uint32 // host uid and gid of container root (unprivileged)
	ip         net.IP
	initPid    int
	init       *os.Process   // garden's child (as subreaper)
	initExited chan struct{} // closed once init is reaped
	spawner    *spawner      // starts processes through init
	pooled     *pooledNet    // namespaces made ahead (networkpool.go), until runc joined them

	mu        sync.Mutex // guards everything below
	state     string
	ports     []garden.PortMapping
	netOut    []garden.NetOutRule
	hasNat    bool
	hasFwd    bool
	processes map[string]*process
	starting  map[string]bool // ids claimed by a Run still starting
	order     []string        // process ids, oldest first
	nextPID   int
	events    []string
	passwd    []byte
}

const mappedUsersSize = idMapSize

// Create builds the rootfs, the network and the runc container. Whatever step
// fails, everything done before it is undone.
func (b *Backend) Create(ctx context.Context, spec garden.ContainerSpec) (info garden.ContainerInfo, err error) {
	if spec.Handle == "" {
		spec.Handle = newHandle()
	}
	if err := b.validate(&spec); err != nil {
		return garden.ContainerInfo{}, err
	}
	if err := b.applyLimits(&spec.Limits); err != nil {
		return garden.ContainerInfo{}, err
	}
	if !b.beginCreate() {
		return garden.ContainerInfo{}, garden.NewOutOfCapacityError("garden is shutting down")
	}
	defer b.creating.Done()
	logger := b.logger.Session("create", lager.Data{"handle": spec.Handle})
	started := b.clock.Now()
	var pooled *pooledNet
	if !spec.Privileged {
		pooled = b.netPool.take()
		defer b.netPool.refill()
	}
	index, ports, err := b.reserve(spec, pooled)
	if err != nil {
		if pooled != nil {
			b.netPool.put(pooled)
		}
		return garden.ContainerInfo{}, err
	}
	c := &container{
		handle: spec.Handle, spec: spec, dir: filepath.Join(b.containersDir(), spec.Handle),
		index: index, ip: ipAt(b.net.subnet, index), state: garden.StateActive, pooled: pooled,
		ports: ports, netOut: spec.NetOut, processes: map[string]*process{}, starting: map[string]bool{},
	}
	var undo []func() error
	if pooled != nil {
		// Its veth is made; runc has not joined its namespaces yet.
		undo = append(undo, func() error {
			pooled.close()
			if b.uids != nil {
				b.uids.release(pooled.key) // unless the container took its slot
			}
			return b.net.destroy(index)
		})
	}
	defer func() {
		if err == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](); uerr != nil {
				logger.Error("undo-failed", uerr)
			}
		}
		b.release(spec.Handle, index, ports)
	}()

	if err := os.Mkdir(c.dir, 0o711); err != nil { // runc mounts hosts and resolv.conf from here as container root
		if errors.Is(err, os.ErrExist) {
			return garden.ContainerInfo{}, garden.NewContainerAlreadyExistsError(spec.Handle)
		}
		return garden.ContainerInfo{}, fmt.Errorf("creating %s: %w", spec.Handle, err)
	}
	undo = append(undo, func() error { return os.RemoveAll(c.dir) })

	imgSpec := image.Spec{URI: spec.Image.URI, Username: spec.Image.Username, Password: spec.Image.Password}
	if !spec.Privileged {
		m := []image.IDMapping{{ContainerID: 0, HostID: b.cfg.UIDMapStart, Size: mappedUsersSize}}
		imgSpec.UIDMappings, imgSpec.GIDMappings = m, m
		iso, err := b.claimUIDRange(c)
		if err != nil {
			return garden.ContainerInfo{}, err
		}
		undo = append(undo, func() error { b.releaseUIDRange(c); return nil })
		imgSpec.Isolation = iso
	}
	if b.cfg.DiskQuota == DiskQuotaRequired {
		imgSpec.DiskLimitBytes = int64(spec.Limits.DiskBytes)
	}
	phase := b.clock.Now()
	took := lager.Data{}
	mark := func(name string) {
		now := b.clock.Now()
		took[name+"_ms"] = now.Sub(phase).Milliseconds()
		phase = now
	}
	img, err := b.images.Create(ctx, logger, spec.Handle, imgSpec)
	mark("rootfs")
	if err != nil {
		return garden.ContainerInfo{}, imageError(spec.Image.URI, err)
	}
	undo = append(undo, func() error { return b.images.Destroy(logger, spec.Handle) })
	c.rootfs, c.imgConfig = img.RootFSPath, img.Config
	c.passwd, _ = readInRoot(c.rootfs, "/etc/passwd")

	if err := b.createSlots.take(ctx, b.closed); err != nil {
		return garden.ContainerInfo{}, fmt.Errorf("creating %s: %w", spec.Handle, err)
	}
	defer b.createSlots.give()
	mark("queued")
	if err := c.updateRules(ctx, b.ipt, nil, nil); err != nil {
		return garden.ContainerInfo{}, fmt.Errorf("creating rules for %s: %w", spec.Handle, err)
	}
	mark("rules")
	undo = append(undo, func() error { return b.ipt.remove(context.Background(), index, c.ip, c.hasNat, c.hasFwd) })

	if err := b.writeBundle(c); err != nil {
		return garden.ContainerInfo{}, fmt.Errorf("writing bundle for %s: %w", spec.Handle, err)
	}
	mark("bundle")
	// Removed after runc's delete (undo runs last first): the container's
	// processes must be gone first.
	undo = append(undo, func() error { return b.removePidsCgroup(spec.Handle) })
	if err := b.makeWorkCgroup(c); err != nil {
		return garden.ContainerInfo{}, err
	}
	undo = append(undo, func() error { return b.runc.delete(context.Background(), spec.Handle) })
	sp, initEnd, err := newSocketPair()
	if err != nil {
		return garden.ContainerInfo{}, err
	}
	c.spawner = sp
	undo = append(undo, func() error { sp.close(); return nil })
	workProcs, err := b.openWorkCgroupProcs(spec.Handle)
	if err != nil {
		initEnd.Close()
		return garden.ContainerInfo{}, err
	}
	c.initPid, err = b.runc.runDetached(ctx, spec.Handle, c.dir, initEnd, workProcs)
	initEnd.Close()
	workProcs.Close()
	if err != nil {
		return garden.ContainerInfo{}, fmt.Errorf("starting %s: %w", spec.Handle, err)
	}
	c.init, c.initExited = reap(c.initPid)
	if pooled != nil {
		pooled.close() // runc joined them: the container holds them now
	}
	if err := b.cgroups.started(spec.Handle, c.initPid, c.spec.Limits.Pids); err != nil {
		return garden.ContainerInfo{}, err
	}
	mark("runc")
	if pooled == nil {
		// No process but init runs before the network is in place: Run
		// needs the container registered, which happens below.
		if err := b.net.create(c.initPid, index); err != nil {
			return garden.ContainerInfo{}, fmt.Errorf("creating network for %s: %w", spec.Handle, err)
		}
		undo = append(undo, func() error { return b.net.destroy(index) })
		mark("network")
	}

	b.mu.Lock()
	delete(b.reserved, spec.Handle)
	b.containers[spec.Handle] = c
	b.mu.Unlock()
	took["ip"], took["total_ms"], took["pooled_network"] = c.ip.String(), b.clock.Since(started).Milliseconds(), pooled != nil
	logger.Info("created", took)
	return c.info(b), nil
}

// Destroy kills every process (by killing init: the pid namespace goes with
// it), then removes the runc container and its cgroups, rules, veth, netns,
// rootfs and bundle.
func (b *Backend) Destroy(ctx context.Context, handle string) error {
	b.mu.Lock()
	c, ok := b.containers[handle]
	if ok {
		delete(b.containers, handle)
		b.reserved[handle] = true // the handle stays taken until the pieces are gone
	}
	b.mu.Unlock()
	if !ok {
		return garden.NewContainerNotFoundError(handle)
	}
	logger := b.logger.Session("destroy", lager.Data{"handle": handle})
	ctx = context.WithoutCancel(ctx) // half a destroy helps nobody
	var errs []error
	if err := b.killInit(c); err != nil {
		errs = append(errs, err)
	}
	if c.spawner != nil {
		c.spawner.close()
	}
	c.mu.Lock()
	hasNat, hasFwd, ports := c.hasNat, c.hasFwd, c.ports
	c.mu.Unlock()
	imgErr := b.images.Destroy(logger, handle)
	errs = append(errs,
		b.ipt.remove(ctx, c.index, c.ip, hasNat, hasFwd),
		b.net.destroy(c.index),
		imgErr,
		os.RemoveAll(c.dir),
	)
	if imgErr == nil {
		b.releaseUIDRange(c)
	} else {
		// Its layer clones and upper dir may still be there, owned by its
		// range: no other container gets the range while they are.
		logger.Info("keeping-uid-range", lager.Data{"host_root": c.hostRoot})
	}
	b.release(handle, c.index, ports)
	if err := errors.Join(errs...); err != nil {
		logger.Error("failed", err)
		return fmt.Errorf("destroying %s: %w", handle, err)
	}
	logger.Info("destroyed")
	return nil
}

// killInit kills the container's init with SIGKILL (the kernel then kills
// everything else in its pid namespace), waits until it is reaped, and removes
// the runc container. This is quicker than runc delete --force, which sleeps
// between its checks; that remains the fallback.
func (b *Backend) killInit(c *container) error {
	ctx := context.Background()
	if c.init != nil && c.init.Signal(unix.SIGKILL) == nil {
		timer := b.clock.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-c.initExited:
			if err := b.removePidsCgroup(c.handle); err == nil {
				if err := b.runc.runCombined(ctx, "delete", c.handle); err == nil {
					return nil
				}
			}
		case <-timer.C():
		}
	}
	// runc kills what is left; the pids cgroup it cannot remove while work
	// exists goes after.
	return errors.Join(b.runc.delete(ctx, c.handle), b.removePidsCgroup(c.handle))
}

// reap waits for pid (garden's child) in the background; the channel closes
// once it has exited and been reaped. If pid is not garden's child the wait
// fails at once and the channel closes early: callers fall back to runc.
func reap(pid int) (*os.Process, chan struct{}) {
	done := make(chan struct{})
	proc, err := os.FindProcess(pid)
	if err != nil {
		close(done)
		return nil, done
	}
	go func() {
		_, _ = proc.Wait()
		close(done)
	}()
	return proc, done
}

func (c *container) info(b *Backend) garden.ContainerInfo {
	c.checkOOM(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noticeInitExitLocked()
	props := map[string]string{}
	for k, v := range c.spec.Properties {
		props[k] = v
	}
	ids := append([]string{}, c.order...)
	return garden.ContainerInfo{
		Handle:        c.handle,
		State:         c.state,
		ContainerIP:   c.ip.String(),
		HostIP:        b.externalIP,
		ExternalIP:    b.externalIP,
		MappedPorts:   append([]garden.PortMapping{}, c.ports...),
		Properties:    props,
		Events:        append([]string{}, c.events...),
		ProcessIDs:    ids,
		Privileged:    c.spec.Privileged,
		Limits:        c.spec.Limits,
		ContainerPath: c.dir,
	}
}

// noticeInitExitLocked marks the container stopped once its init has died
// (killed by Stop, or by anything else): nothing can run in it any more.
func (c *container) noticeInitExitLocked() {
	if c.initExited == nil {
		return
	}
	select {
	case <-c.initExited:
		c.state = garden.StateStopped
	default:
	}
}

// checkOOM records the "out of memory" event once the kernel has OOM-killed
// anything in the container's memory cgroup.
func (c *container) checkOOM(b *Backend) {
	killed, err := b.cgroups.oomKilled(c.handle)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) { // gone with the container
			b.logger.Error("reading-oom-events", err, lager.Data{"handle": c.handle})
		}
		return
	}
	if killed {
		c.mu.Lock()
		if !containsString(c.events, garden.EventOutOfMemory) {
			c.events = append(c.events, garden.EventOutOfMemory)
		}
		c.mu.Unlock()
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *container) cgroupMetrics(cg cgroupManager) garden.Metrics {
	s := cg.stats(c.handle)
	return garden.Metrics{MemoryBytes: s.memoryBytes, CPUTime: durationNS(s.cpuNanos), Pids: s.pids}
}

// updateRules adds ports and net-out rules and rewrites the container's chains.
func (c *container) updateRules(ctx context.Context, ipt *iptables, ports []garden.PortMapping, netOut []garden.NetOutRule) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	allPorts := append(append([]garden.PortMapping{}, c.ports...), ports...)
	allOut := append(append([]garden.NetOutRule{}, c.netOut...), netOut...)
	hasNat, hasFwd, err := ipt.apply(ctx, containerRules{
		index: c.index, handle: c.handle, ip: c.ip, ports: allPorts, netOut: allOut, hasNat: c.hasNat, hasFwd: c.hasFwd,
	})
	c.hasNat, c.hasFwd = hasNat, hasFwd
	if err != nil {
		return err
	}
	c.ports, c.netOut = allPorts, allOut
	return nil
}
