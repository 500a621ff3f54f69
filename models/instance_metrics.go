package models

// InstanceMetrics is what the API answers for one instance of an LRP: its
// latest usage sample, with CPU as a percentage of one core over the interval
// between the instance's last two samples (a busy loop on one core reads near
// 100; two cores near 200). Limits are 0 when the instance has none.
type InstanceMetrics struct {
	ProcessGuid      string  `json:"process_guid"`
	Index            int     `json:"index"`
	InstanceGuid     string  `json:"instance_guid"`
	CellID           string  `json:"cell_id,omitempty"`
	State            string  `json:"state,omitempty"`
	CPUPercent       float64 `json:"cpu_percent"`
	MemoryBytes      uint64  `json:"memory_bytes"`
	MemoryLimitBytes uint64  `json:"memory_limit_bytes"`
	DiskBytes        uint64  `json:"disk_bytes"`
	DiskLimitBytes   uint64  `json:"disk_limit_bytes"`
	Timestamp        int64   `json:"timestamp"` // unix ns of the sample; 0 when none has arrived yet
}

// CPUPercent is the CPU an instance used between two of its samples, in
// percent of one core. It is 0 without an earlier sample, when the samples are
// out of order, or when the counter went backwards (a restarted container).
func CPUPercent(prev, cur ContainerMetrics) float64 {
	if prev.Timestamp == 0 || cur.Timestamp <= prev.Timestamp || cur.CPUNanos < prev.CPUNanos {
		return 0
	}
	return float64(cur.CPUNanos-prev.CPUNanos) / float64(cur.Timestamp-prev.Timestamp) * 100
}

// Apply fills m's usage from a sample and the CPU between prev and it.
func (m *InstanceMetrics) Apply(prev, cur ContainerMetrics) {
	m.CPUPercent = CPUPercent(prev, cur)
	m.MemoryBytes, m.MemoryLimitBytes = cur.MemoryBytes, cur.MemoryLimit
	m.DiskBytes, m.DiskLimitBytes = cur.DiskBytes, cur.DiskLimit
	m.Timestamp = cur.Timestamp
}
