package executor

import (
	"context"
	"encoding/json"
	"sync"

	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/models"
)

// usageTable holds the last two usage samples of every running container: the
// cell's totals on /metrics come from it.
type usageTable struct {
	mu   sync.Mutex
	last map[string][2]models.ContainerMetrics // guid -> {previous, latest}
}

func (t *usageTable) record(m models.ContainerMetrics) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string][2]models.ContainerMetrics{}
	}
	t.last[m.InstanceGuid] = [2]models.ContainerMetrics{t.last[m.InstanceGuid][1], m}
}

func (t *usageTable) forget(guid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.last, guid)
}

// CellUsage is what a cell's running containers use, from their latest samples.
type CellUsage struct {
	Containers  int     // containers with a sample
	CPUPercent  float64 // percent of one core, summed
	MemoryBytes uint64
	DiskBytes   uint64
}

// Usage sums the latest samples of the cell's running containers.
func (e *Executor) Usage() CellUsage {
	e.usage.mu.Lock()
	defer e.usage.mu.Unlock()
	var u CellUsage
	for _, s := range e.usage.last {
		u.Containers++
		u.CPUPercent += models.CPUPercent(s[0], s[1])
		u.MemoryBytes += s[1].MemoryBytes
		u.DiskBytes += s[1].DiskBytes
	}
	return u
}

// Collectors are the cell's gauges for a Prometheus registry: its capacity,
// what is left of it, and what its containers really use.
func (e *Executor) Collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	return []prometheus.Collector{
		gauge("diego_rep_capacity_memory_mb", "Memory the cell offers to instances.", func() float64 { return float64(e.TotalResources().MemoryMB) }),
		gauge("diego_rep_remaining_memory_mb", "Memory not yet reserved by an instance.", func() float64 { return float64(e.RemainingResources().MemoryMB) }),
		gauge("diego_rep_capacity_disk_mb", "Disk the cell offers to instances.", func() float64 { return float64(e.TotalResources().DiskMB) }),
		gauge("diego_rep_remaining_disk_mb", "Disk not yet reserved by an instance.", func() float64 { return float64(e.RemainingResources().DiskMB) }),
		gauge("diego_rep_capacity_containers", "Containers the cell can hold.", func() float64 { return float64(e.TotalResources().Containers) }),
		gauge("diego_rep_remaining_containers", "Containers the cell can still take.", func() float64 { return float64(e.RemainingResources().Containers) }),
		gauge("diego_rep_containers_reporting", "Running containers with a usage sample.", func() float64 { return float64(e.Usage().Containers) }),
		gauge("diego_rep_containers_cpu_percent", "CPU the cell's containers use, in percent of one core, summed.", func() float64 { return e.Usage().CPUPercent }),
		gauge("diego_rep_containers_memory_bytes", "Memory the cell's containers use, summed.", func() float64 { return float64(e.Usage().MemoryBytes) }),
		gauge("diego_rep_containers_disk_bytes", "Disk the cell's containers use, summed.", func() float64 { return float64(e.Usage().DiskBytes) }),
	}
}

// sampleUsage samples the container's usage at once and then every
// MetricsInterval until ctx ends: each sample goes into the cell's totals and,
// when the work has a metrics guid, out on metrics.<metrics_guid>.
func (e *Executor) sampleUsage(ctx context.Context, req RunRequest) {
	if e.cfg.MetricsInterval <= 0 {
		return
	}
	logger := e.logger.Session("usage", lager.Data{"guid": req.Guid})
	defer e.usage.forget(req.Guid)
	ticker := e.clock.NewTicker(e.cfg.MetricsInterval)
	defer ticker.Stop()
	for {
		m, err := e.garden.Metrics(ctx, req.Guid)
		if err == nil {
			sample := models.ContainerMetrics{
				MetricsGuid: req.MetricsGuid, InstanceIndex: req.Index, InstanceGuid: req.Guid,
				CPUNanos: uint64(m.CPUTime), MemoryBytes: m.MemoryBytes, DiskBytes: m.DiskBytes,
				MemoryLimit: m.MemoryLimitBytes, DiskLimit: m.DiskLimitBytes, Timestamp: e.clock.Now().UnixNano(),
			}
			e.usage.record(sample)
			e.publishUsage(logger, sample)
		} else if ctx.Err() == nil {
			logger.Debug("sampling-failed", lager.Data{"error": err.Error()})
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

func (e *Executor) publishUsage(logger lager.Logger, sample models.ContainerMetrics) {
	if e.metrics == nil || sample.MetricsGuid == "" {
		return
	}
	data, err := json.Marshal(sample)
	if err != nil {
		logger.Error("encoding-failed", err)
		return
	}
	if err := e.metrics.Publish(models.MetricsSubjectPrefix+sample.MetricsGuid, data); err != nil {
		logger.Debug("publishing-failed", lager.Data{"error": err.Error()})
	}
}
