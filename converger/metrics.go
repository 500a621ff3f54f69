package converger

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports each pass. Register them on the daemon's debug registry.
type Metrics struct {
	passes       prometheus.Counter
	failedPasses prometheus.Counter
	duration     prometheus.Histogram
	lastDuration prometheus.Gauge
	actions      *prometheus.CounterVec
	conflicts    *prometheus.CounterVec
	errors       *prometheus.CounterVec
	lastPass     *prometheus.GaugeVec
}

// NewMetrics builds the converger's metrics and registers them on reg (nil:
// not registered anywhere, for tests and embedding).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_converger_passes_total", Help: "Convergence passes that read a snapshot and applied it."}),
		failedPasses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_converger_failed_passes_total", Help: "Convergence passes that could not read their snapshot."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "diego_converger_pass_duration_seconds", Help: "Time of one pass: snapshot, compute, apply.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}),
		lastDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "diego_converger_last_pass_duration_seconds", Help: "Time of the last pass (operators alert at 10 s)."}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_converger_actions_total", Help: "Records the BBS accepted, per convergence action."}, []string{"action"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_converger_conflicts_total", Help: "Records that had moved on before the action, per action."}, []string{"action"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_converger_errors_total", Help: "Actions the BBS failed, per action."}, []string{"action"}),
		lastPass: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "diego_converger_last_pass_actions", Help: "Records acted on in the last pass, per action."}, []string{"action"}),
	}
	if reg != nil {
		reg.MustRegister(m.passes, m.failedPasses, m.duration, m.lastDuration, m.actions, m.conflicts, m.errors, m.lastPass)
	}
	return m
}

func (m *Metrics) failedPass() { m.failedPasses.Inc() }

func (m *Metrics) observe(r Report) {
	m.passes.Inc()
	m.duration.Observe(r.Duration.Seconds())
	m.lastDuration.Set(r.Duration.Seconds())
	for _, a := range Actions() {
		m.actions.WithLabelValues(a).Add(float64(r.Done[a]))
		m.conflicts.WithLabelValues(a).Add(float64(r.Conflicts[a]))
		m.errors.WithLabelValues(a).Add(float64(r.Errors[a]))
		m.lastPass.WithLabelValues(a).Set(float64(r.Done[a]))
	}
}
