package models

// Log message types.
const (
	LogMessageTypeOut = "OUT"
	LogMessageTypeErr = "ERR"
)

// Log source types used by the cell; a run action may name its own.
const (
	LogSourceApp    = "APP"
	LogSourceCell   = "CELL"
	LogSourceHealth = "HEALTH"
)

// MaxLogLineBytes caps one log message; longer lines are split.
const MaxLogLineBytes = 60 * 1024

// LogSubjectPrefix is the NATS subject prefix of log lines: logs.<log_guid>.
const LogSubjectPrefix = "logs."

// MetricsSubjectPrefix is the NATS subject prefix of container metrics.
const MetricsSubjectPrefix = "metrics."

// LogEnvelope is one log line as published on NATS and served to users.
type LogEnvelope struct {
	LogGuid        string `json:"log_guid"`
	SourceType     string `json:"source_type"`
	SourceInstance string `json:"source_instance"`
	MessageType    string `json:"message_type"`
	Timestamp      int64  `json:"timestamp"` // unix ns
	Message        string `json:"message"`
}

// ContainerMetrics is one sample of an instance's usage, published on
// metrics.<metrics_guid>.
type ContainerMetrics struct {
	MetricsGuid   string `json:"metrics_guid"`
	InstanceIndex int    `json:"instance_index"`
	InstanceGuid  string `json:"instance_guid"`
	CPUNanos      uint64 `json:"cpu_nanos"`
	MemoryBytes   uint64 `json:"memory_bytes"`
	DiskBytes     uint64 `json:"disk_bytes"`
	MemoryLimit   uint64 `json:"memory_limit_bytes"`
	DiskLimit     uint64 `json:"disk_limit_bytes"`
	Timestamp     int64  `json:"timestamp"`
}
