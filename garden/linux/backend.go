package linux

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"golang.org/x/sys/unix"
)

// Backend runs containers with runc. It implements garden.Backend.
//
// Locks: Backend.mu guards the container table and the IP and port pools;
// container.mu guards one container's mutable fields. Backend.mu may be taken
// before a container.mu, never the other way round.
type Backend struct {
	logger lager.Logger
	clock  clock.Clock
	cfg    Config
	images ImageStore
	runc   runc
	uids   *uidPool // nil unless uid_isolation is per-container
	// cgroups is the host's cgroup mode (v1 or v2), found by New.
	cgroups cgroupManager
	net     *network
	ipt     *iptables
	netPool *networkPool

	externalIP string

	// createSlots and startSlots bound concurrent creates and process
	// starts (Config.MaxConcurrentStarts); separate so that starts, which
	// finish instances, never queue behind a burst of creates.
	createSlots slots
	startSlots  slots

	// creating counts creates in flight, so Shutdown destroys what they made
	// instead of leaving it behind; closed, closed (under mu) when Shutdown
	// begins, refuses new creates and ends the waits for a create slot.
	creating sync.WaitGroup
	closed   chan struct{}

	mu         sync.Mutex
	containers map[string]*container
	reserved   map[string]bool // handles being created
	ips        map[int]string  // subnet index -> handle
	nextIP     int
	ports      map[uint32]string // host port -> handle
	nextPort   uint32
}

var _ garden.Backend = (*Backend)(nil)

// New returns a backend; call Start before serving it.
func New(logger lager.Logger, clk clock.Clock, cfg Config, images ImageStore) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nw, err := newNetwork(cfg)
	if err != nil {
		return nil, err
	}
	cgroups, err := detectCgroups(cfg.CgroupParent)
	if err != nil {
		return nil, err
	}
	logger.Info("cgroups", lager.Data{"version": cgroups.version(), "parent": cfg.CgroupParent})
	ext := cfg.ExternalIP
	if ext == "" {
		ext = defaultExternalIP()
	}
	var uids *uidPool
	if cfg.UIDIsolation == UIDIsolationPerContainer {
		uids = newUIDPool(cfg.UIDMapStart, int(cfg.UIDRangeCount))
	}
	b := &Backend{
		uids:        uids,
		logger:      logger.Session("garden-linux"),
		clock:       clk,
		cfg:         cfg,
		images:      images,
		runc:        runc{path: cfg.RuntimePath, root: filepath.Join(cfg.StateDir, "run", "runc")},
		cgroups:     cgroups,
		net:         nw,
		ipt:         &iptables{prefix: cfg.ChainPrefix, bridge: cfg.BridgeName, subnet: nw.subnet.String(), deny: cfg.DenyNetOut},
		externalIP:  ext,
		createSlots: make(slots, cfg.MaxConcurrentStarts),
		closed:      make(chan struct{}),
		startSlots:  make(slots, cfg.MaxConcurrentStarts),
		containers:  map[string]*container{},
		reserved:    map[string]bool{},
		ips:         map[int]string{},
		nextIP:      2,
		ports:       map[uint32]string{},
		nextPort:    cfg.PortRangeStart,
	}
	b.netPool = newNetworkPool(b.logger, b, cfg.NetworkPoolSize)
	return b, nil
}

// Start removes whatever a previous run of this garden left behind (its
// containers do not survive a garden restart) and sets up the bridge and the
// base iptables chains.
func (b *Backend) Start(ctx context.Context) error {
	if err := prepareReachable("garden state_dir", b.cfg.StateDir, b.cfg.ContainerRoot()); err != nil {
		return err
	}
	// Container roots (other users) reach their bundles' files through
	// here: search, but no listing of the handles.
	if err := os.Chmod(b.cfg.StateDir, 0o711); err != nil {
		return err
	}
	if err := b.mountRunDir(); err != nil {
		return err
	}
	for _, d := range []string{b.containersDir(), b.runc.root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	// Containers' init processes are re-parented to garden when runc run
	// exits, so it can wait for them and know when a container's init died.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("becoming a child subreaper: %w", err)
	}
	if err := b.cleanupLeftovers(ctx); err != nil {
		return fmt.Errorf("cleaning up leftovers: %w", err)
	}
	if b.cfg.DiskQuota == DiskQuotaRequired {
		if err := image.CheckDiskLimits(ctx, b.cfg.StateDir); err != nil {
			return fmt.Errorf("disk_quota is %q but this cell cannot enforce disk limits (set disk_quota to %q to run without them): %w", DiskQuotaRequired, DiskQuotaOff, err)
		}
	}
	if err := b.checkUIDIsolation(); err != nil {
		return err
	}
	if st, err := os.Stat(b.cfg.InitPath); err != nil || st.IsDir() || st.Mode()&0o005 != 0o005 {
		return fmt.Errorf("init_path %s must be an executable every user can read (garden-init): %v", b.cfg.InitPath, err)
	}
	if err := b.net.setup(); err != nil {
		return err
	}
	if err := b.ipt.setup(ctx); err != nil {
		return err
	}
	deny, err := perimeterDeny(b.cfg.DenyNetworks)
	if err != nil {
		return err
	}
	p := &perimeter{prefix: b.cfg.ChainPrefix, bridge: b.cfg.BridgeName, deny: deny}
	if err := p.install(ctx, b.ipt); err != nil {
		return err
	}
	b.netPool.start()
	return nil
}

func (b *Backend) containersDir() string { return filepath.Join(b.runDir(), "containers") }

func (b *Backend) Ping(ctx context.Context) error { return nil }

func (b *Backend) Capacity(ctx context.Context) (garden.Capacity, error) {
	c := b.capacity()
	b.mu.Lock()
	c.Containers = uint64(len(b.containers))
	b.mu.Unlock()
	return c, nil
}

// capacity is the cell's memory and disk (configured, else measured) and
// its container limit.
func (b *Backend) capacity() garden.Capacity {
	mem := b.cfg.MemoryBytes
	if mem == 0 {
		mem = hostMemory()
	}
	disk := b.cfg.DiskBytes
	if disk == 0 {
		var st unix.Statfs_t
		if err := unix.Statfs(b.cfg.StateDir, &st); err == nil {
			disk = st.Blocks * uint64(st.Bsize)
		}
	}
	return garden.Capacity{MemoryBytes: mem, DiskBytes: disk, MaxContainers: b.cfg.MaxContainers}
}

func hostMemory() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (b *Backend) lookup(handle string) (*container, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.containers[handle]
	if !ok {
		return nil, garden.NewContainerNotFoundError(handle)
	}
	return c, nil
}

func (b *Backend) List(ctx context.Context, properties map[string]string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
outer:
	for h, c := range b.containers {
		for k, v := range properties {
			if c.spec.Properties[k] != v {
				continue outer
			}
		}
		out = append(out, h)
	}
	sort.Strings(out)
	return out, nil
}

var handleRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

var processIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func (b *Backend) validate(spec *garden.ContainerSpec) error {
	if !handleRE.MatchString(spec.Handle) {
		return garden.NewInvalidSpecError("handle %q must be 1-128 letters, digits, '_', '.' or '-'", spec.Handle)
	}
	if spec.Image.URI == "" {
		return garden.NewBadURIError("", "the image URI is empty")
	}
	for _, m := range spec.BindMounts {
		if !filepath.IsAbs(m.SrcPath) || !filepath.IsAbs(m.DstPath) {
			return garden.NewInvalidSpecError("bind mount %s -> %s: both paths must be absolute", m.SrcPath, m.DstPath)
		}
		if _, err := os.Stat(m.SrcPath); err != nil {
			return garden.NewInvalidSpecError("bind mount source %s: %v", m.SrcPath, err)
		}
	}
	for _, r := range spec.NetOut {
		if err := validateNetOut(r); err != nil {
			return err
		}
	}
	for _, r := range spec.NetIn {
		if r.HostPort > 65535 || r.ContainerPort > 65535 || (r.HostPort == 0 && r.ContainerPort == 0) {
			return garden.NewInvalidSpecError("net-in %d -> %d is not a valid port mapping", r.HostPort, r.ContainerPort)
		}
	}
	return nil
}

// reserve claims the handle, an IP and the net-in host ports in one step, so
// a failure leaves nothing claimed.
// reserve takes the handle, a subnet index (pooled's, if a pooled network
// was taken) and the net-in ports.
func (b *Backend) reserve(spec garden.ContainerSpec, pooled *pooledNet) (int, []garden.PortMapping, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.containers[spec.Handle]; ok || b.reserved[spec.Handle] {
		return 0, nil, garden.NewContainerAlreadyExistsError(spec.Handle)
	}
	if uint64(len(b.containers)+len(b.reserved)) >= b.cfg.MaxContainers {
		return 0, nil, garden.NewOutOfCapacityError(fmt.Sprintf("%d containers is the maximum", b.cfg.MaxContainers))
	}
	var index int
	if pooled != nil {
		index = pooled.index
		b.ips[index] = spec.Handle
	} else {
		var err error
		if index, err = b.allocateIP(spec.Handle); err != nil {
			return 0, nil, err
		}
	}
	var ports []garden.PortMapping
	for _, r := range spec.NetIn {
		m, err := b.allocatePort(spec.Handle, r)
		if err != nil {
			b.releaseLocked(spec.Handle, index, ports)
			if pooled != nil {
				b.ips[index] = pooled.key // back to the pool's entry
			}
			return 0, nil, err
		}
		ports = append(ports, m)
	}
	b.reserved[spec.Handle] = true
	return index, ports, nil
}

func (b *Backend) allocateIP(handle string) (int, error) {
	size := b.net.size()
	for i := 0; i < size; i++ {
		idx := b.nextIP
		b.nextIP++
		if b.nextIP >= size-1 { // the last address is broadcast
			b.nextIP = 2
		}
		if idx < 2 || idx >= size-1 {
			continue
		}
		if _, taken := b.ips[idx]; !taken {
			b.ips[idx] = handle
			return idx, nil
		}
	}
	return 0, garden.NewOutOfCapacityError("no container IPs left in " + b.net.subnet.String())
}

// allocatePort takes the requested host port, or the next free one in range.
// A port something on the host already listens on is refused: DNAT would
// silently steal its traffic.
func (b *Backend) allocatePort(handle string, r garden.NetInRule) (garden.PortMapping, error) {
	if r.HostPort != 0 {
		if _, taken := b.ports[r.HostPort]; taken || !portFree(r.HostPort) {
			return garden.PortMapping{}, garden.NewPortInUseError(r.HostPort)
		}
		b.ports[r.HostPort] = handle
		cp := r.ContainerPort
		if cp == 0 {
			cp = r.HostPort
		}
		return garden.PortMapping{HostPort: r.HostPort, ContainerPort: cp}, nil
	}
	span := b.cfg.PortRangeEnd - b.cfg.PortRangeStart + 1
	for i := uint32(0); i < span; i++ {
		p := b.nextPort
		b.nextPort++
		if b.nextPort > b.cfg.PortRangeEnd {
			b.nextPort = b.cfg.PortRangeStart
		}
		if _, taken := b.ports[p]; taken || !portFree(p) {
			continue
		}
		b.ports[p] = handle
		return garden.PortMapping{HostPort: p, ContainerPort: r.ContainerPort}, nil
	}
	return garden.PortMapping{}, garden.NewOutOfCapacityError("no host ports left in range")
}

func portFree(p uint32) bool {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(int(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (b *Backend) release(handle string, index int, ports []garden.PortMapping) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.releaseLocked(handle, index, ports)
}

func (b *Backend) releaseLocked(handle string, index int, ports []garden.PortMapping) {
	if b.ips[index] == handle {
		delete(b.ips, index)
	}
	for _, p := range ports {
		if b.ports[p.HostPort] == handle {
			delete(b.ports, p.HostPort)
		}
	}
	delete(b.reserved, handle)
}

func (b *Backend) Info(ctx context.Context, handle string) (garden.ContainerInfo, error) {
	c, err := b.lookup(handle)
	if err != nil {
		return garden.ContainerInfo{}, err
	}
	return c.info(b), nil
}

func (b *Backend) Metrics(ctx context.Context, handle string) (garden.Metrics, error) {
	c, err := b.lookup(handle)
	if err != nil {
		return garden.Metrics{}, err
	}
	m := c.cgroupMetrics(b.cgroups)
	m.MemoryLimitBytes = c.spec.Limits.MemoryBytes
	m.DiskLimitBytes = c.spec.Limits.DiskBytes
	if du, err := b.images.DiskUsage(handle); err == nil {
		m.DiskBytes = du
	}
	return m, nil
}

func (b *Backend) NetIn(ctx context.Context, handle string, rule garden.NetInRule) (garden.PortMapping, error) {
	c, err := b.lookup(handle)
	if err != nil {
		return garden.PortMapping{}, err
	}
	if rule.HostPort > 65535 || rule.ContainerPort > 65535 || (rule.HostPort == 0 && rule.ContainerPort == 0) {
		return garden.PortMapping{}, garden.NewInvalidSpecError("net-in %d -> %d is not a valid port mapping", rule.HostPort, rule.ContainerPort)
	}
	b.mu.Lock()
	m, err := b.allocatePort(handle, rule)
	b.mu.Unlock()
	if err != nil {
		return garden.PortMapping{}, err
	}
	if err := c.updateRules(ctx, b.ipt, []garden.PortMapping{m}, nil); err != nil {
		b.release(handle, -1, []garden.PortMapping{m})
		return garden.PortMapping{}, err
	}
	return m, nil
}

func (b *Backend) NetOut(ctx context.Context, handle string, rule garden.NetOutRule) error {
	c, err := b.lookup(handle)
	if err != nil {
		return err
	}
	if err := validateNetOut(rule); err != nil {
		return err
	}
	return c.updateRules(ctx, b.ipt, nil, []garden.NetOutRule{rule})
}

func (b *Backend) Stop(ctx context.Context, handle string, grace time.Duration) error {
	c, err := b.lookup(handle)
	if err != nil {
		return err
	}
	return c.stop(ctx, b, grace)
}

// signalAll sends sig to every process in the container (strays included)
// through runc.
func (b *Backend) signalAll(ctx context.Context, handle string, sig syscall.Signal) error {
	return b.runc.killAll(ctx, handle, sig)
}
