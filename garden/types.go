package garden

import "time"

// ContainerSpec is what a client asks garden to create.
type ContainerSpec struct {
	// Handle names the container; it must be unique on this garden. Empty means
	// garden picks one.
	Handle string `json:"handle"`
	// Image is the rootfs: docker:///repo#tag, docker://host:port/repo#tag,
	// oci:///abs/path#tag, docker-archive:///abs/file.tar or preloaded:name.
	Image ImageRef `json:"image"`
	// Env is prepended to every process's environment (after the image's).
	Env        []string          `json:"env,omitempty"`
	Limits     Limits            `json:"limits"`
	BindMounts []BindMount       `json:"bind_mounts,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
	// Privileged runs the container without a user namespace: container root is
	// host root. Off by default.
	Privileged bool         `json:"privileged,omitempty"`
	NetIn      []NetInRule  `json:"net_in,omitempty"`
	NetOut     []NetOutRule `json:"net_out,omitempty"`
}

// ImageRef names an image and the credentials to fetch it.
type ImageRef struct {
	URI      string `json:"uri"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// Limits bound a container. Zero means the garden's default (never
// unlimited); a value above the garden's ceiling is refused (InvalidSpec).
// ContainerInfo.Limits reports the limits the container got.
type Limits struct {
	MemoryBytes uint64 `json:"memory_bytes,omitempty"`
	CPUShares   uint64 `json:"cpu_shares,omitempty"`
	Pids        int64  `json:"pids,omitempty"`
	// DiskBytes bounds what the container writes to its rootfs: its writable
	// layer is a file system of this size (unless the garden's disk_quota is
	// "off"); writes past it fail with ENOSPC.
	DiskBytes uint64 `json:"disk_bytes,omitempty"`
}

// BindMount exposes a host path inside the container.
type BindMount struct {
	SrcPath  string `json:"src_path"`
	DstPath  string `json:"dst_path"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// NetInRule maps a host port to a container port. A zero HostPort asks garden to
// pick one from its range; a zero ContainerPort means the same as the host port.
type NetInRule struct {
	HostPort      uint32 `json:"host_port"`
	ContainerPort uint32 `json:"container_port"`
}

// NetOutRule allows outbound traffic from the container.
type NetOutRule struct {
	// Protocol is "tcp", "udp", "icmp" or "all" (the default).
	Protocol string `json:"protocol,omitempty"`
	// Network is a CIDR or a single IP; empty means anywhere.
	Network string `json:"network,omitempty"`
	// Ports is a list of ports or "from-to" ranges (tcp/udp only).
	Ports []string `json:"ports,omitempty"`
	// ICMP narrows an icmp rule to one ICMP type (and code); nil allows every
	// ICMP message.
	ICMP *ICMPControl `json:"icmp,omitempty"`
	// Log logs each connection the rule allows (the first packet of it) to the
	// kernel log, prefixed with the container's handle.
	Log bool `json:"log,omitempty"`
}

// ICMPControl is an ICMP type and, optionally, a code.
type ICMPControl struct {
	Type uint8  `json:"type"`
	Code *uint8 `json:"code,omitempty"` // nil: any code of Type
}

// PortMapping is one active net-in rule.
type PortMapping struct {
	HostPort      uint32 `json:"host_port"`
	ContainerPort uint32 `json:"container_port"`
}

// ContainerInfo describes a container.
type ContainerInfo struct {
	Handle        string            `json:"handle"`
	State         string            `json:"state"` // "active" or "stopped"
	ContainerIP   string            `json:"container_ip"`
	HostIP        string            `json:"host_ip"`
	ExternalIP    string            `json:"external_ip"`
	MappedPorts   []PortMapping     `json:"mapped_ports"`
	Properties    map[string]string `json:"properties"`
	Events        []string          `json:"events"`
	ProcessIDs    []string          `json:"process_ids"`
	Privileged    bool              `json:"privileged"`
	Limits        Limits            `json:"limits"`
	ContainerPath string            `json:"container_path"`
}

// Container states.
const (
	StateActive  = "active"
	StateStopped = "stopped"
)

// EventOutOfMemory is reported in ContainerInfo.Events once the kernel OOM-killed
// a process in the container.
const EventOutOfMemory = "out of memory"

// Metrics are a container's resource usage.
type Metrics struct {
	MemoryBytes      uint64        `json:"memory_bytes"`
	MemoryLimitBytes uint64        `json:"memory_limit_bytes"`
	CPUTime          time.Duration `json:"cpu_time_ns"`
	DiskBytes        uint64        `json:"disk_bytes"`
	DiskLimitBytes   uint64        `json:"disk_limit_bytes"`
	Pids             uint64        `json:"pids"`
}

// Capacity is what this garden can hold.
type Capacity struct {
	MemoryBytes   uint64 `json:"memory_bytes"`
	DiskBytes     uint64 `json:"disk_bytes"`
	MaxContainers uint64 `json:"max_containers"`
	Containers    uint64 `json:"containers"`
}

// ProcessSpec is a process to run in a container.
type ProcessSpec struct {
	// ID names the process; empty means garden picks one. It must be unique in
	// the container.
	ID   string   `json:"id,omitempty"`
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
	// Dir is the working directory; empty means the user's home, or /.
	Dir string   `json:"dir,omitempty"`
	Env []string `json:"env,omitempty"`
	// User is a name from the image's /etc/passwd, or uid[:gid]. Empty means the
	// image's configured user, else root.
	User   string  `json:"user,omitempty"`
	Limits RLimits `json:"limits"`
	// TTY, when set, runs the process on a pseudo-terminal of the container
	// of this initial size (stdout then carries the terminal's output, stderr
	// nothing); Process.Resize changes the size. Nil: pipes.
	TTY *WindowSize `json:"tty,omitempty"`
}

// WindowSize is a terminal's size in characters; zero fields mean 24 rows
// and 80 columns.
type WindowSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// OrDefault fills zero fields with 24 rows, 80 columns.
func (w WindowSize) OrDefault() WindowSize {
	if w.Rows == 0 {
		w.Rows = 24
	}
	if w.Cols == 0 {
		w.Cols = 80
	}
	return w
}

// RLimits are per-process resource limits.
type RLimits struct {
	// Nofile is RLIMIT_NOFILE (soft and hard); zero means the garden default.
	Nofile uint64 `json:"nofile,omitempty"`
}
