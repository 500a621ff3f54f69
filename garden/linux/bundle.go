package linux

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The subset of the OCI runtime spec (config.json) that garden writes.

type ociSpec struct {
	OCIVersion string      `json:"ociVersion"`
	Process    *ociProcess `json:"process,omitempty"`
	Root       ociRoot     `json:"root"`
	Hostname   string      `json:"hostname,omitempty"`
	Mounts     []ociMount  `json:"mounts"`
	Linux      ociLinux    `json:"linux"`
}

type ociProcess struct {
	Terminal        bool        `json:"terminal"`
	User            ociUser     `json:"user"`
	Args            []string    `json:"args"`
	Env             []string    `json:"env,omitempty"`
	Cwd             string      `json:"cwd"`
	Capabilities    *ociCaps    `json:"capabilities,omitempty"`
	Rlimits         []ociRlimit `json:"rlimits,omitempty"`
	NoNewPrivileges bool        `json:"noNewPrivileges"`
	OOMScoreAdj     *int        `json:"oomScoreAdj,omitempty"`
}

type ociUser struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
}

type ociCaps struct {
	Bounding    []string `json:"bounding"`
	Effective   []string `json:"effective"`
	Inheritable []string `json:"inheritable"`
	Permitted   []string `json:"permitted"`
	Ambient     []string `json:"ambient"`
}

type ociRlimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

type ociRoot struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"`
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"`
}

type ociLinux struct {
	UIDMappings   []ociIDMapping `json:"uidMappings,omitempty"`
	GIDMappings   []ociIDMapping `json:"gidMappings,omitempty"`
	Resources     ociResources   `json:"resources"`
	CgroupsPath   string         `json:"cgroupsPath"`
	Namespaces    []ociNamespace `json:"namespaces"`
	Seccomp       *ociSeccomp    `json:"seccomp,omitempty"`
	MaskedPaths   []string       `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string       `json:"readonlyPaths,omitempty"`
	// Sysctl is written by runc inside the container's namespaces, in its
	// user namespace's ids, before /proc/sys turns read-only.
	Sysctl map[string]string `json:"sysctl,omitempty"`
}

type ociIDMapping struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

type ociResources struct {
	Devices []ociDeviceRule `json:"devices"`
	Memory  *ociMemory      `json:"memory,omitempty"`
	CPU     *ociCPU         `json:"cpu,omitempty"`
	Pids    *ociPids        `json:"pids,omitempty"`
}

type ociDeviceRule struct {
	Allow  bool   `json:"allow"`
	Access string `json:"access,omitempty"`
}

type ociMemory struct {
	Limit *int64 `json:"limit,omitempty"`
	Swap  *int64 `json:"swap,omitempty"`
}

type ociCPU struct {
	Shares *uint64 `json:"shares,omitempty"`
}

type ociPids struct {
	Limit int64 `json:"limit"`
}

type ociNamespace struct {
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
}

type ociSeccomp struct {
	DefaultAction   string           `json:"defaultAction"`
	DefaultErrnoRet *uint            `json:"defaultErrnoRet,omitempty"`
	Architectures   []string         `json:"architectures"`
	Syscalls        []ociSyscallRule `json:"syscalls"`
}

type ociSyscallRule struct {
	Names    []string        `json:"names"`
	Action   string          `json:"action"`
	ErrnoRet *uint           `json:"errnoRet,omitempty"`
	Args     []ociSeccompArg `json:"args,omitempty"`
}

// ociSeccompArg matches one argument of a call (see seccomp.go).
type ociSeccompArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// defaultCaps is what container root keeps: enough to own files, switch users
// and bind low ports, nothing that touches the host (no SYS_ADMIN, NET_ADMIN,
// NET_RAW, MKNOD, SYS_PTRACE, ...).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_SETFCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_AUDIT_WRITE",
}

// capsFor gives root the default set and other users none but the bounding set,
// as a login would.
func capsFor(uid uint32) *ociCaps {
	if uid == 0 {
		return &ociCaps{Bounding: defaultCaps, Effective: defaultCaps, Permitted: defaultCaps, Inheritable: []string{}, Ambient: []string{}}
	}
	return &ociCaps{Bounding: defaultCaps, Effective: []string{}, Permitted: []string{}, Inheritable: []string{}, Ambient: []string{}}
}

var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// sysMount is /sys: read-only all the way down, so that no cgroup, debug or
// security filesystem the host mounts below its /sys is writable inside. An
// unprivileged container mounts a fresh sysfs, which the kernel allows because
// runc makes the container's network namespace inside its user namespace: it
// shows that namespace's devices and nothing mounted below the host's /sys
// (cgroupfs included). runc 1.1 has no recursive read-only bind ("rro"), which
// is why it is not a bind of the host's /sys. A privileged container's sysfs
// is its own too.
func sysMount() ociMount {
	return ociMount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
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
		if p := c.pooled; p != nil && p.userns != nil {
			// Made ahead with the same mapping: runc joins the user
			// namespace first, then the network namespace it owns.
			n := len(spec.Linux.Namespaces)
			spec.Linux.Namespaces[n-2].Path = nsPath(p.netns)
			spec.Linux.Namespaces[n-1].Path = nsPath(p.userns)
		}
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
