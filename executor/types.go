package executor

import (
	"time"

	"github.com/diego-runtime/diego/models"
)

// State is where a container is in its life.
type State string

// Container states.
const (
	StateReserved     State = "RESERVED"
	StateInitializing State = "INITIALIZING"
	StateCreated      State = "CREATED"
	StateRunning      State = "RUNNING"
	StateCompleted    State = "COMPLETED"
)

// Kinds of work a container holds.
const (
	KindLRP  = "lrp"
	KindTask = "task"
)

// Resources counts a cell's memory, disk and container slots.
type Resources struct {
	MemoryMB   int `json:"memory_mb"`
	DiskMB     int `json:"disk_mb"`
	Containers int `json:"containers"`
}

func (r Resources) fits(res models.Resource) bool {
	return r.MemoryMB >= res.MemoryMB && r.DiskMB >= res.DiskMB && r.Containers >= 1
}

func (r *Resources) add(res models.Resource, sign int) {
	r.MemoryMB += sign * res.MemoryMB
	r.DiskMB += sign * res.DiskMB
	r.Containers += sign
}

// Allocation asks for room for one container. Guid becomes the garden handle:
// the instance guid of an LRP, the task guid of a task.
type Allocation struct {
	Guid     string            `json:"guid"`
	Kind     string            `json:"kind"`
	Resource models.Resource   `json:"resource"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// RunRequest is everything needed to run a reserved container.
type RunRequest struct {
	Guid          string                     `json:"guid"`
	Kind          string                     `json:"kind"`
	ProcessGuid   string                     `json:"process_guid,omitempty"`
	Index         int                        `json:"index"`
	Domain        string                     `json:"domain"`
	RootFS        string                     `json:"rootfs"`
	ImageUsername string                     `json:"image_username,omitempty"`
	ImagePassword string                     `json:"image_password,omitempty"`
	Env           []models.EnvVar            `json:"env,omitempty"`
	Setup         *models.Action             `json:"setup,omitempty"`
	Action        *models.Action             `json:"action"`
	Monitor       *models.Action             `json:"monitor,omitempty"`
	Checks        *models.CheckDefinition    `json:"check_definition,omitempty"`
	StartTimeout  time.Duration              `json:"start_timeout"`
	Privileged    bool                       `json:"privileged,omitempty"`
	Ports         []uint32                   `json:"ports,omitempty"`
	MaxPids       int                        `json:"max_pids,omitempty"`
	CPUWeight     int                        `json:"cpu_weight,omitempty"`
	LogGuid       string                     `json:"log_guid,omitempty"`
	LogSource     string                     `json:"log_source,omitempty"`
	MetricsGuid   string                     `json:"metrics_guid,omitempty"`
	ResultFile    string                     `json:"result_file,omitempty"`
	EgressRules   []models.SecurityGroupRule `json:"egress_rules,omitempty"`
}

// RunResult is how a container's work ended.
type RunResult struct {
	Failed        bool   `json:"failed"`
	FailureReason string `json:"failure_reason,omitempty"`
	Stopped       bool   `json:"stopped"` // ended because it was asked to stop
	Result        string `json:"result,omitempty"`
	// CellFault says the container could not be created for a reason of the
	// cell's own (garden failing inside, out of capacity, not answering), not
	// of the work (a bad image): the work should go to another cell and is
	// not the app's crash.
	CellFault bool `json:"cell_fault,omitempty"`
}

// Container is the executor's view of one container.
type Container struct {
	Guid         string                  `json:"guid"`
	Kind         string                  `json:"kind"`
	State        State                   `json:"state"`
	Resource     models.Resource         `json:"resource"`
	Tags         map[string]string       `json:"tags,omitempty"`
	Run          *RunRequest             `json:"run,omitempty"`
	NetInfo      models.ActualLRPNetInfo `json:"net_info"`
	Routable     bool                    `json:"routable"`
	RunResult    RunResult               `json:"run_result"`
	ReservedAt   time.Time               `json:"reserved_at"`
	RunningSince time.Time               `json:"running_since"`
}

// Event types.
const (
	EventRunning         = "running"          // healthy (or started, without checks)
	EventRoutable        = "routable"         // readiness changed; see Container.Routable
	EventCompleted       = "completed"        // see Container.RunResult
	EventReservationGone = "reservation_gone" // a reservation expired before it ran
	// EventLagged tells a subscriber it missed events (its buffer was full);
	// its Container is empty. The subscriber re-reads Containers() to repair
	// what it missed. It is sent ahead of the next event that finds room.
	EventLagged = "lagged"
)

// Event reports a change in one container; Container is a copy taken then.
type Event struct {
	Type      string
	Container Container
}
