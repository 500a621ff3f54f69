package linux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
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
	logger := b.logger.Session("create", lager.Data{"handle": spec.Handle})
	started := b.clock.Now()
	index, ports, err := b.reserve(spec)
	if err != nil {
		return garden.ContainerInfo{}, err
	}
	c := &container{
		handle: spec.Handle, spec: spec, dir: filepath.Join(b.containersDir(), spec.Handle),
		index: index, ip: ipAt(b.net.subnet, index), state: garden.StateActive,
		ports: ports, netOut: spec.NetOut, processes: map[string]*process{}, starting: map[string]bool{},
	}
	var undo []func() error
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

	if err := b.createSlots.take(ctx); err != nil {
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
	if err := b.cgroups.started(spec.Handle, c.initPid, c.spec.Limits.Pids); err != nil {
		return garden.ContainerInfo{}, err
	}
	mark("runc")
	// No process but init runs before the network is in place: Run needs the
	// container registered, which happens below.
	if err := b.net.create(c.initPid, index); err != nil {
		return garden.ContainerInfo{}, fmt.Errorf("creating network for %s: %w", spec.Handle, err)
	}
	undo = append(undo, func() error { return b.net.destroy(index) })
	mark("network")

	b.mu.Lock()
	delete(b.reserved, spec.Handle)
	b.containers[spec.Handle] = c
	b.mu.Unlock()
	took["ip"], took["total_ms"] = c.ip.String(), b.clock.Since(started).Milliseconds()
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

// writeBundle writes config.json: namespaces,
// the user namespace unless privileged, cgroup limits, dropped capabilities,
// seccomp, and the garden init bind-mounted as pid 1.
func (b *Backend) writeBundle(c *container) error {
	spec := ociSpec{
		OCIVersion: "1.0.2",
		Root:       ociRoot{Path: c.rootfs},
		Hostname:   hostname(c.handle),
		Process: &ociProcess{
			User: ociUser{UID: 0, GID: 0},
			Args: []string{initMountPath},
			Cwd:  "/",
			// initd is a Go program: one P keeps its threads (which count
			// against the pid limit) few.
			Env:          []string{"PATH=" + defaultPath, "GOMAXPROCS=1"},
			Capabilities: capsFor(0),
			// The hard limit is the most any process may ask for: initd's
			// helper lowers it per process, and could not raise it.
			Rlimits:         []ociRlimit{{Type: "RLIMIT_NOFILE", Hard: max(maxNofile(), b.cfg.DefaultNofile), Soft: b.cfg.DefaultNofile}},
			NoNewPrivileges: true,
		},
		Mounts: b.mounts(c),
		Linux: ociLinux{
			CgroupsPath: "/" + b.cfg.CgroupParent + "/" + c.handle,
			Namespaces: []ociNamespace{
				{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"},
				{Type: "network"},
			},
			Resources:     ociResources{Devices: []ociDeviceRule{{Allow: false, Access: "rwm"}}},
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
			// Every group may open ICMP echo sockets, so ping works without
			// NET_RAW (as in Docker); net-out rules still decide where it goes.
			Sysctl: map[string]string{"net.ipv4.ping_group_range": "0 2147483647"},
		},
	}
	if !c.spec.Privileged {
		if c.hostRoot == 0 {
			return fmt.Errorf("container %s has no uid range: its root would be host root", c.handle)
		}
		m := []ociIDMapping{{ContainerID: 0, HostID: c.hostRoot, Size: mappedUsersSize}}
		spec.Linux.UIDMappings, spec.Linux.GIDMappings = m, m
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, ociNamespace{Type: "user"})
		// Only mapped ids are valid in the range.
		spec.Linux.Sysctl["net.ipv4.ping_group_range"] = fmt.Sprintf("0 %d", mappedUsersSize-1)
	}
	sc, err := seccompFor(c.spec.Privileged)
	if err != nil {
		return err
	}
	spec.Linux.Seccomp = sc
	l := c.spec.Limits
	if l.MemoryBytes > 0 {
		v := int64(l.MemoryBytes)
		spec.Linux.Resources.Memory = &ociMemory{Limit: &v}
	}
	if l.CPUShares > 0 {
		v := l.CPUShares
		spec.Linux.Resources.CPU = &ociCPU{Shares: &v}
	}
	if l.Pids > 0 {
		spec.Linux.Resources.Pids = &ociPids{Limit: l.Pids + initPidsReserve} // work has l.Pids
	}
	if err := writeEtcFiles(c); err != nil {
		return err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.dir, "config.json"), data, 0o600)
}

const (
	initMountPath = "/.garden-init"
	defaultPath   = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

func (b *Backend) mounts(c *container) []ociMount {
	ms := []ociMount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	ms = append(ms, sysMount(),
		ociMount{Destination: initMountPath, Type: "none", Source: b.cfg.InitPath, Options: []string{"bind", "ro"}},
		ociMount{Destination: "/etc/hosts", Type: "none", Source: filepath.Join(c.dir, "hosts"), Options: []string{"bind", "ro"}},
		ociMount{Destination: "/etc/resolv.conf", Type: "none", Source: filepath.Join(c.dir, "resolv.conf"), Options: []string{"bind", "ro"}},
	)
	for _, m := range c.spec.BindMounts {
		opts := []string{"rbind", "nosuid", "nodev"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		ms = append(ms, ociMount{Destination: m.DstPath, Type: "none", Source: m.SrcPath, Options: opts})
	}
	return ms
}

// writeEtcFiles gives the container its own hosts and resolv.conf (the
// host's resolvers, minus loopback ones it could not reach).
func writeEtcFiles(c *container) error {
	hosts := fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", c.ip, hostname(c.handle))
	if err := os.WriteFile(filepath.Join(c.dir, "hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}
	var resolv strings.Builder
	if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" && strings.HasPrefix(f[1], "127.") {
				continue
			}
			resolv.WriteString(line + "\n")
		}
	}
	return os.WriteFile(filepath.Join(c.dir, "resolv.conf"), []byte(resolv.String()), 0o644)
}

func hostname(handle string) string {
	if len(handle) > 63 {
		return handle[:63]
	}
	return handle
}
