package auctioneer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the auctioneer's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	auctions    prometheus.Counter
	lrpsPlaced  prometheus.Counter
	lrpsFailed  prometheus.Counter
	tasksPlaced prometheus.Counter
	tasksFailed prometheus.Counter
	refused     prometheus.Counter
	cellsOut    prometheus.Counter
	duration    prometheus.Histogram
}

// NewMetrics registers the auctioneer's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "diego", Subsystem: "auctioneer", Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	m := &Metrics{
		auctions:    counter("auctions_total", "Auctions run."),
		lrpsPlaced:  counter("lrps_placed_total", "LRP instances handed to a cell that took them."),
		lrpsFailed:  counter("lrps_failed_total", "LRP instances reported to the BBS as not placed."),
		tasksPlaced: counter("tasks_placed_total", "Tasks handed to a cell that took them."),
		tasksFailed: counter("tasks_failed_total", "Task rejections reported to the BBS."),
		refused:     counter("work_refused_total", "Items a cell refused or whose POST /work failed."),
		cellsOut:    counter("cells_left_out_total", "Cells left out of an auction because /state failed."),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "diego", Subsystem: "auctioneer", Name: "auction_duration_seconds",
			Help:    "Time from fetching cells to the last failure report.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	reg.MustRegister(m.duration)
	return m
}

func (m *Metrics) observe(r Report, lrpsPlaced, tasksPlaced int) {
	if m == nil {
		return
	}
	m.auctions.Inc()
	m.lrpsPlaced.Add(float64(lrpsPlaced))
	m.tasksPlaced.Add(float64(tasksPlaced))
	m.lrpsFailed.Add(float64(len(r.FailedLRPs)))
	m.tasksFailed.Add(float64(len(r.FailedTasks)))
	m.refused.Add(float64(r.Refused))
	m.cellsOut.Add(float64(len(r.CellErrors)))
	m.duration.Observe(r.Duration.Seconds())
}
