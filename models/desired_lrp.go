package models

import "encoding/json"

// DesiredLRP declares "keep Instances copies of this running". The fields
// DesiredLRPUpdate names may change after it is created; a change of what an
// instance runs (RunVersion) rolls the instances over (docs/rolling.md).
type DesiredLRP struct {
	ProcessGuid     string              `json:"process_guid"`
	Domain          string              `json:"domain"`
	Instances       int                 `json:"instances"`
	RootFS          string              `json:"rootfs"`
	ImageUsername   string              `json:"image_username,omitempty"`
	ImagePassword   string              `json:"image_password,omitempty"`
	Env             []EnvVar            `json:"env,omitempty"`
	Setup           *Action             `json:"setup"`
	Action          *Action             `json:"action"`
	Monitor         *Action             `json:"monitor"`
	CheckDefinition *CheckDefinition    `json:"check_definition,omitempty"`
	StartTimeout    uint                `json:"start_timeout"`
	MemoryMB        int                 `json:"memory_mb"`
	DiskMB          int                 `json:"disk_mb"`
	MaxPids         int                 `json:"max_pids"`
	CPUWeight       int                 `json:"cpu_weight"`
	Privileged      bool                `json:"privileged"`
	Ports           []uint32            `json:"ports"`
	Routes          Routes              `json:"routes,omitempty"`
	LogGuid         string              `json:"log_guid"`
	LogSource       string              `json:"log_source"`
	MetricsGuid     string              `json:"metrics_guid"`
	Annotation      string              `json:"annotation,omitempty"`
	PlacementTags   []string            `json:"placement_tags,omitempty"`
	EgressRules     []SecurityGroupRule `json:"egress_rules,omitempty"`
	RestartPolicy   *RestartPolicy      `json:"restart_policy,omitempty"`
	// RollPolicy bounds how a change of what instances run is rolled out;
	// nil means one extra instance at a time and none unavailable.
	RollPolicy *RollPolicy `json:"roll_policy,omitempty"`
	// Version is the store's RunVersion of the record (read-only; a client's
	// value is ignored). Each actual LRP records the version it started from.
	Version string `json:"version,omitempty"`
	// Roll is the progress of rolling instances to Version, filled in by the
	// receptor on reads (never stored; a client's value is ignored).
	Roll            *RollStatus     `json:"roll,omitempty"`
	ModificationTag ModificationTag `json:"modification_tag"`
	// SSHDisabled keeps `diego ssh` (the receptor's SSH server) out of every
	// instance: no shell, command or port forward. Our extension; default
	// false (allowed when the operator allows it).
	SSHDisabled bool `json:"ssh_disabled,omitempty"`
}

// DefaultMaxInstances is the most instances a desired LRP may ask for unless
// the operator sets another bound (BBS max_instances). Every component that
// walks indices stops there, so a huge count cannot exhaust memory.
const DefaultMaxInstances = 10000

// DesiredLRPUpdate names the only fields a PUT may change; nil means "leave as
// is". Instances, Routes and Annotation are the 2015 wire format's; the rest
// are our extensions, and a change of any field of RunVersion rolls the
// instances to the new definition.
type DesiredLRPUpdate struct {
	Instances       *int             `json:"instances,omitempty"`
	Routes          *Routes          `json:"routes,omitempty"`
	Annotation      *string          `json:"annotation,omitempty"`
	RootFS          *string          `json:"rootfs,omitempty"`
	ImageUsername   *string          `json:"image_username,omitempty"`
	ImagePassword   *string          `json:"image_password,omitempty"`
	Env             *[]EnvVar        `json:"env,omitempty"`
	Setup           *Action          `json:"setup,omitempty"`
	Action          *Action          `json:"action,omitempty"`
	Monitor         *Action          `json:"monitor,omitempty"`
	CheckDefinition *CheckDefinition `json:"check_definition,omitempty"`
	StartTimeout    *uint            `json:"start_timeout,omitempty"`
	MemoryMB        *int             `json:"memory_mb,omitempty"`
	DiskMB          *int             `json:"disk_mb,omitempty"`
	Ports           *[]uint32        `json:"ports,omitempty"`
	RollPolicy      *RollPolicy      `json:"roll_policy,omitempty"`
}

// Routes maps a router name (for example "cf-router") to that router's own JSON.
type Routes map[string]json.RawMessage

// CFRouterKey is the routes key Cloud Foundry's route emitter reads.
const CFRouterKey = "cf-router"

// CFRoute is one entry of the "cf-router" routes value.
type CFRoute struct {
	Hostnames []string `json:"hostnames"`
	Port      uint32   `json:"port"`
}

// EnvVar is one name=value pair; later duplicates win.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ModificationTag orders versions of a record: Epoch changes when the record is
// recreated, Index increases with every write.
type ModificationTag struct {
	Epoch string `json:"epoch"`
	Index uint32 `json:"index"`
}

// Increment returns the tag of the next version.
func (t ModificationTag) Increment() ModificationTag {
	return ModificationTag{Epoch: t.Epoch, Index: t.Index + 1}
}

// SucceededBy reports whether other is a newer version of the same record. A tag
// with no epoch is never ordered, so it is always taken as newer.
func (t ModificationTag) SucceededBy(other ModificationTag) bool {
	if t.Epoch == "" || other.Epoch == "" {
		return true
	}
	return t.Epoch != other.Epoch || t.Index < other.Index
}

// CheckDefinition lists health checks; each check has exactly one of its fields set.
type CheckDefinition struct {
	Checks          []Check `json:"checks,omitempty"`
	ReadinessChecks []Check `json:"readiness_checks,omitempty"`
}

// Check is exactly one of a TCP or an HTTP check.
type Check struct {
	TCPCheck  *TCPCheck  `json:"tcp_check,omitempty"`
	HTTPCheck *HTTPCheck `json:"http_check,omitempty"`
}

// TCPCheck passes when a connection to Port succeeds.
type TCPCheck struct {
	Port             uint32 `json:"port"`
	ConnectTimeoutMs int64  `json:"connect_timeout_ms,omitempty"`
	IntervalMs       int64  `json:"interval_ms,omitempty"`
}

// HTTPCheck passes when GET Path on Port answers 200.
type HTTPCheck struct {
	Port             uint32 `json:"port"`
	Path             string `json:"path,omitempty"`
	RequestTimeoutMs int64  `json:"request_timeout_ms,omitempty"`
	IntervalMs       int64  `json:"interval_ms,omitempty"`
}

// SecurityGroupRule allows outbound traffic from a container.
type SecurityGroupRule struct {
	Protocol     string     `json:"protocol"` // tcp, udp, icmp or all
	Destinations []string   `json:"destinations"`
	Ports        []uint16   `json:"ports,omitempty"`
	PortRange    *PortRange `json:"port_range,omitempty"`
	IcmpInfo     *ICMPInfo  `json:"icmp_info,omitempty"`
	Log          bool       `json:"log"`
}

// ICMPInfo narrows an icmp rule to one ICMP type and code.
type ICMPInfo struct {
	Type int32 `json:"type"`
	Code int32 `json:"code"`
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	Start uint16 `json:"start"`
	End   uint16 `json:"end"`
}

// RestartPolicy overrides the crash restart numbers of DefaultRestartPolicy.
type RestartPolicy struct {
	ImmediateRestarts int   `json:"immediate_restarts"`
	BaseBackoffMs     int64 `json:"base_backoff_ms"`
	MaxBackoffMs      int64 `json:"max_backoff_ms"`
	MaxRestarts       int   `json:"max_restarts"`
	ResetAfterMs      int64 `json:"reset_after_ms"`
}
