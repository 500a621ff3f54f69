package maintain

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/models"
)

// metrics are the maintainer's Prometheus series (docs/bbs.md lists them).
type metrics struct {
	alarm        *prometheus.GaugeVec // 1 while raised, by alarm name
	dbSize       prometheus.Gauge
	dbInUse      prometheus.Gauge
	quota        prometheus.Gauge
	compactedRev prometheus.Gauge
	compactions  prometheus.Counter
	defrags      prometheus.Counter
	disarms      prometheus.Counter
	failures     *prometheus.CounterVec // by step
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		alarm: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "diego_bbs_etcd_alarm", Help: "1 while etcd has raised the alarm (NOSPACE: every write is refused), else 0.",
		}, []string{"alarm"}),
		dbSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "diego_bbs_etcd_db_size_bytes", Help: "Size of etcd's database (largest member), which the space quota bounds.",
		}),
		dbInUse: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "diego_bbs_etcd_db_size_in_use_bytes", Help: "Part of etcd's database holding live data (largest member).",
		}),
		quota: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "diego_bbs_etcd_quota_bytes", Help: "etcd's space quota.",
		}),
		compactedRev: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "diego_bbs_etcd_compacted_revision", Help: "The revision this BBS last compacted etcd's history to.",
		}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_bbs_etcd_compactions_total", Help: "Compactions of etcd's history made by this BBS.",
		}),
		defrags: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_bbs_etcd_defragmentations_total", Help: "Defragmentations of an etcd member made by this BBS.",
		}),
		disarms: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_bbs_etcd_alarms_disarmed_total", Help: "NOSPACE alarms this BBS disarmed after freeing space.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_bbs_etcd_maintenance_failures_total", Help: "Failed maintenance steps, by step (status, alarms, compact, defragment, disarm).",
		}, []string{"step"}),
	}
	for _, name := range []string{models.AlarmNoSpace, models.AlarmCorrupt} {
		m.alarm.WithLabelValues(name).Set(0)
	}
	if reg != nil {
		reg.MustRegister(m.alarm, m.dbSize, m.dbInUse, m.quota, m.compactedRev, m.compactions, m.defrags, m.disarms, m.failures)
	}
	return m
}

func (m *metrics) observe(h models.StoreHealth) {
	for _, name := range []string{models.AlarmNoSpace, models.AlarmCorrupt} {
		v := 0.0
		if h.HasAlarm(name) {
			v = 1
		}
		m.alarm.WithLabelValues(name).Set(v)
	}
	m.dbSize.Set(float64(h.DBSizeBytes))
	m.dbInUse.Set(float64(h.DBSizeInUseBytes))
	m.quota.Set(float64(h.QuotaBytes))
}
