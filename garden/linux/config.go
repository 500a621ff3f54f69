package linux

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/internal/config"
)

// Config says where a garden keeps its state and which host resources are its
// own. Two gardens on one machine need distinct StateDir, BridgeName, Subnet and
// port range.
type Config struct {
	// StateDir holds container bundles, network namespaces and runc's state.
	// Required. Everything under it belongs to this garden and is removed at
	// start.
	StateDir string `json:"state_dir"`
	// RuntimePath is the OCI runtime binary. Default "runc" (from PATH). crun
	// takes the same commands but does not pass garden's suites yet (see
	// docs/garden.md, Runtime).
	RuntimePath string `json:"runtime_path"`
	// InitPath is the garden-init binary, every container's pid 1 (package
	// initd). Default: garden-init beside the running executable, else on PATH.
	InitPath string `json:"init_path"`
	// BridgeName is this garden's bridge; host veths are named after it, so it
	// is at most 9 characters. Default "dg0".
	BridgeName string `json:"bridge_name"`
	// ChainPrefix names this garden's iptables chains. Default "g-" + BridgeName.
	ChainPrefix string `json:"chain_prefix"`
	// Subnet is the pool container IPs come from; the first address is the
	// bridge (the containers' gateway). Default "10.254.0.0/22".
	Subnet string `json:"subnet"`
	// PortRangeStart and PortRangeEnd bound the host ports net-in picks from
	// (inclusive). Default 61000-61999.
	PortRangeStart uint32 `json:"port_range_start"`
	PortRangeEnd   uint32 `json:"port_range_end"`
	// ExternalIP is the cell's address, reported as a container's host IP.
	// Default: the first IPv4 address of the interface holding the default route.
	ExternalIP string `json:"external_ip"`
	// MTU of container interfaces. Default: the MTU of the default route's
	// interface, else 1500.
	MTU int `json:"mtu"`
	// UIDMapStart is the host uid (and gid) that container root maps to in
	// unprivileged containers; 65536 ids from it are used. Default 100000.
	UIDMapStart uint32 `json:"uid_map_start"`
	// UIDIsolation is "per-container": each unprivileged container maps its
	// root to a host uid range of its own, from uid_map_start +
	// (slot+1)*65536, its slot one of uid_range_count; the range from
	// uid_map_start owns the shared image layers, which each container sees
	// through idmapped mounts (garden refuses to start where the image
	// store's file system cannot be idmapped). Or "shared": every
	// unprivileged container maps to the range from uid_map_start. Default
	// "per-container".
	UIDIsolation string `json:"uid_isolation"`
	// UIDRangeCount is how many per-container ranges there are: past it a
	// create fails with OutOfCapacity. Default max_containers.
	UIDRangeCount uint64 `json:"uid_range_count"`
	// CgroupParent is the cgroup containers are created in: under each
	// controller on a v1 host, in the unified hierarchy on a v2 host.
	// Default "garden-" + BridgeName.
	CgroupParent string `json:"cgroup_parent"`
	// MaxContainers caps how many containers may exist at once. Default 250.
	MaxContainers uint64 `json:"max_containers"`
	// MemoryBytes and DiskBytes are the capacity reported. Default: the host's
	// memory, and the size of the file system holding StateDir.
	MemoryBytes uint64 `json:"memory_bytes"`
	DiskBytes   uint64 `json:"disk_bytes"`
	// DefaultNofile is RLIMIT_NOFILE for processes that do not set one. Default 1024.
	DefaultNofile uint64 `json:"default_nofile"`
	// MaxConcurrentStarts bounds how many container creates, and separately
	// how many process starts, run at once. Each is a runc invocation plus
	// kernel work (mounts, namespaces, cgroups, veths) that serialises on
	// kernel locks: past a few per core, more at once only thrash and every
	// one finishes later. Default 2 per CPU.
	MaxConcurrentStarts int `json:"max_concurrent_starts"`
	// NetworkPoolSize is how many network namespaces garden keeps ready for
	// unprivileged containers, each with its own user namespace, its veth
	// pair on the bridge and its address (networkpool.go): a create takes
	// one instead of having runc make a namespace and wiring a veth into it
	// under the kernel's rtnl lock. The pool refills in the background.
	// Default 8; -1 turns it off.
	NetworkPoolSize int `json:"network_pool_size"`
	// DenyNetOut rejects a container's outbound traffic except replies and its
	// net-out rules. Default false: outbound is open and net-out rules have no
	// further effect.
	DenyNetOut bool `json:"deny_net_out"`
	// DenyNetworks are IPv4 addresses or CIDRs no container may reach,
	// whatever its net-out rules: the control plane's networks, other cells,
	// the registry. Added to the perimeter's own list (link-local, this host's
	// addresses, other containers), which cannot be opened. Default none.
	DenyNetworks []string `json:"deny_networks"`

	// Limits are always on: a request's 0 means the default below, and a
	// request above a ceiling is refused (InvalidSpec).
	// DefaultMemoryMB is the memory limit of a container that asks for 0.
	// Default 1024.
	DefaultMemoryMB uint64 `json:"default_memory_mb"`
	// MaxMemoryMB is the most memory one container may ask for. Default 0:
	// the cell's memory (memory_bytes).
	MaxMemoryMB uint64 `json:"max_memory_mb"`
	// DefaultPids is the process (and thread) limit of a container that asks
	// for 0. Default 1024.
	DefaultPids int64 `json:"default_pids"`
	// MaxPids is the most processes one container may ask for. Default 32768.
	MaxPids int64 `json:"max_pids"`
	// DefaultCPUShares is the cpu weight of a container that asks for 0.
	// Default 1024.
	DefaultCPUShares uint64 `json:"default_cpu_shares"`
	// MaxCPUShares is the most cpu weight one container may ask for. Default
	// 262144 (the kernel's most).
	MaxCPUShares uint64 `json:"max_cpu_shares"`
	// DefaultDiskMB is the disk limit of a container that asks for 0.
	// Default 10240.
	DefaultDiskMB uint64 `json:"default_disk_mb"`
	// MaxDiskMB is the most disk one container may ask for. Default 0: the
	// cell's disk (disk_bytes).
	MaxDiskMB uint64 `json:"max_disk_mb"`
	// DiskQuota is "required": each container's writable layer is a file
	// system of its own, its disk limit in size (a sparse file on a loop
	// device), and garden refuses to start where it cannot make one; or
	// "off": the disk limit is only reported against. Default "required".
	DiskQuota string `json:"disk_quota"`
	// MaxImageMB caps what the layers of one image a create unpacks may
	// decompress to, together (a decompression bomb is refused and nothing of
	// it cached). Default 10240.
	MaxImageMB int64 `json:"max_image_mb"`
}

// Defaults.
const (
	DefaultRuntimePath    = "runc"
	DefaultBridgeName     = "dg0"
	DefaultSubnet         = "10.254.0.0/22"
	DefaultPortRangeStart = 61000
	DefaultPortRangeEnd   = 61999
	DefaultUIDMapStart    = 100000
	DefaultMaxContainers  = 250
	DefaultNofile         = 1024
	DefaultMemoryMB       = 1024
	DefaultPids           = 1024
	DefaultMaxPids        = 32768
	DefaultCPUShares      = 1024
	DefaultMaxCPUShares   = 262144
	DefaultDiskMB         = 10240
	DefaultMaxImageMB     = image.DefaultMaxImageBytes / mib
	DefaultNetworkPool    = 8
	idMapSize             = 65536
)

// DefaultConfig returns a config with every default filled in except StateDir.
func DefaultConfig() Config {
	return Config{
		RuntimePath:    DefaultRuntimePath,
		BridgeName:     DefaultBridgeName,
		Subnet:         DefaultSubnet,
		PortRangeStart: DefaultPortRangeStart,
		PortRangeEnd:   DefaultPortRangeEnd,
		UIDMapStart:    DefaultUIDMapStart,
		MaxContainers:  DefaultMaxContainers,
		DefaultNofile:  DefaultNofile,

		DefaultMemoryMB:  DefaultMemoryMB,
		DefaultPids:      DefaultPids,
		MaxPids:          DefaultMaxPids,
		DefaultCPUShares: DefaultCPUShares,
		MaxCPUShares:     DefaultMaxCPUShares,
		DefaultDiskMB:    DefaultDiskMB,
		DiskQuota:        DiskQuotaRequired,
		UIDIsolation:     UIDIsolationPerContainer,
		MaxImageMB:       DefaultMaxImageMB,
	}
}

var bridgeNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,8}$`)

// Validate checks the config, reporting every problem at once (each naming
// its field), and fills the defaults derived from other fields.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(c.StateDir != "" && filepath.IsAbs(c.StateDir), "state_dir", "must be an absolute path")
	if c.RuntimePath == "" {
		c.RuntimePath = DefaultRuntimePath
	}
	if c.InitPath == "" {
		c.InitPath = defaultInitPath()
	}
	if !filepath.IsAbs(c.InitPath) {
		p.Addf("init_path", "%q must be an absolute path (garden-init not found beside garden or on PATH)", c.InitPath)
	}
	if !bridgeNameRE.MatchString(c.BridgeName) {
		p.Addf("bridge_name", "%q must be 1-9 lowercase letters and digits", c.BridgeName)
	}
	if c.ChainPrefix == "" {
		c.ChainPrefix = "g-" + c.BridgeName
	}
	if len(c.ChainPrefix) > 16 {
		p.Addf("chain_prefix", "%q is longer than 16 characters", c.ChainPrefix)
	}
	if _, n, err := net.ParseCIDR(c.Subnet); err != nil || n.IP.To4() == nil {
		p.Addf("subnet", "%q is not an IPv4 CIDR", c.Subnet)
	} else if ones, _ := n.Mask.Size(); ones > 29 || ones < 16 {
		p.Addf("subnet", "%q must be between /16 and /29", c.Subnet)
	}
	if c.PortRangeStart == 0 || c.PortRangeEnd < c.PortRangeStart || c.PortRangeEnd > 65535 {
		p.Addf("port_range_start", "and port_range_end: port range %d-%d is invalid", c.PortRangeStart, c.PortRangeEnd)
	}
	if c.ExternalIP != "" && net.ParseIP(c.ExternalIP).To4() == nil {
		p.Addf("external_ip", "%q is not an IPv4 address", c.ExternalIP)
	}
	p.Check(c.UIDMapStart != 0, "uid_map_start", "must not be 0 (container root would be host root)")
	for _, e := range c.DenyNetworks {
		if _, err := denyCIDR(e); err != nil {
			p.Addf("deny_networks", "%v", err)
		}
	}
	if c.CgroupParent == "" {
		c.CgroupParent = "garden-" + c.BridgeName
	}
	if c.MaxContainers == 0 {
		c.MaxContainers = DefaultMaxContainers
	}
	p.Add(c.validateUIDIsolation())
	if c.DefaultNofile == 0 {
		c.DefaultNofile = DefaultNofile
	}
	p.Check(c.NetworkPoolSize >= -1, "network_pool_size", "must be -1 (off) or more")
	if c.NetworkPoolSize == 0 {
		c.NetworkPoolSize = DefaultNetworkPool
	}
	p.Check(c.MaxConcurrentStarts >= 0, "max_concurrent_starts", "must not be negative")
	if c.MaxConcurrentStarts == 0 {
		c.MaxConcurrentStarts = 2 * runtime.NumCPU()
	}
	p.Add(c.validateLimits())
	if err := p.Err(); err != nil {
		return fmt.Errorf("garden config: %w", err)
	}
	return nil
}

// defaultInitPath looks for garden-init beside the running executable, then
// on PATH; it returns the bare name if neither has it, which Validate refuses.
func defaultInitPath() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), initBinary)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(initBinary); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return initBinary
}

const initBinary = "garden-init"
