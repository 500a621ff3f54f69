package models

// Task states (DESIGN 6.2).
const (
	TaskStatePending   = "PENDING"
	TaskStateRunning   = "RUNNING"
	TaskStateCompleted = "COMPLETED"
	TaskStateResolving = "RESOLVING"
)

// TaskDefinition is what a client submits; Task adds the status the system keeps.
type TaskDefinition struct {
	RootFS                string              `json:"rootfs"`
	ImageUsername         string              `json:"image_username,omitempty"`
	ImagePassword         string              `json:"image_password,omitempty"`
	Env                   []EnvVar            `json:"env,omitempty"`
	Action                *Action             `json:"action"`
	MemoryMB              int                 `json:"memory_mb"`
	DiskMB                int                 `json:"disk_mb"`
	MaxPids               int                 `json:"max_pids"`
	CPUWeight             int                 `json:"cpu_weight"`
	Privileged            bool                `json:"privileged"`
	ResultFile            string              `json:"result_file"`
	CompletionCallbackURL string              `json:"completion_callback_url"`
	Annotation            string              `json:"annotation,omitempty"`
	PlacementTags         []string            `json:"placement_tags,omitempty"`
	LogGuid               string              `json:"log_guid"`
	LogSource             string              `json:"log_source"`
	MetricsGuid           string              `json:"metrics_guid"`
	EgressRules           []SecurityGroupRule `json:"egress_rules,omitempty"`
}

// Task is one run-once job and its status.
type Task struct {
	TaskGuid string `json:"task_guid"`
	Domain   string `json:"domain"`
	TaskDefinition
	State            string `json:"state"`
	CellID           string `json:"cell_id"`
	CreatedAt        int64  `json:"created_at"`
	UpdatedAt        int64  `json:"updated_at"`
	FirstCompletedAt int64  `json:"first_completed_at,omitempty"`
	Failed           bool   `json:"failed"`
	FailureReason    string `json:"failure_reason"`
	Result           string `json:"result"`
	RejectionCount   int    `json:"rejection_count"`
}
