package router

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Route labels for requests that matched no route, so that random Host
// headers cannot grow the metric set.
const (
	routeUnknown = "_unknown"
	routeInvalid = "_invalid"
)

type metrics struct {
	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	retries         *prometheus.CounterVec
	natsMessages    *prometheus.CounterVec
	malformed       prometheus.Counter
	ignored         *prometheus.CounterVec
	registrations   *prometheus.CounterVec
	unregistrations prometheus.Counter
	pruned          prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, table *Table) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_router_requests_total",
			Help: "Requests served, by route (hostname) and status class (2xx, 4xx, ...).",
		}, []string{"route", "status_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "diego_router_request_duration_seconds",
			Help:    "Time from request received to response finished, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_router_retries_total",
			Help: "Attempts sent to another endpoint after a failed one, by route.",
		}, []string{"route"}),
		natsMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_router_nats_messages_total",
			Help: "NATS messages received, by subject.",
		}, []string{"subject"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_router_nats_messages_malformed_total",
			Help: "router.register/unregister messages that were not valid JSON.",
		}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_router_nats_messages_ignored_total",
			Help: "Registry messages (or URIs in them) ignored, by reason.",
		}, []string{"reason"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diego_router_registrations_total",
			Help: "Endpoint registrations applied per hostname, by result (added, refreshed, stale).",
		}, []string{"result"}),
		unregistrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_router_unregistrations_total",
			Help: "Endpoints removed from a hostname by router.unregister.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "diego_router_endpoints_pruned_total",
			Help: "Endpoints removed because they were not refreshed in time.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.retries, m.natsMessages, m.malformed, m.ignored,
		m.registrations, m.unregistrations, m.pruned,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "diego_router_routes",
			Help: "Hostnames in the route table.",
		}, func() float64 { h, _ := table.Size(); return float64(h) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "diego_router_endpoints",
			Help: "Endpoints in the route table, counted once per hostname.",
		}, func() float64 { _, e := table.Size(); return float64(e) }),
	)
	return m
}

func statusClass(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	case status >= 200:
		return "2xx"
	default:
		return "1xx"
	}
}
