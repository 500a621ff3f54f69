// Package debugserver serves a daemon's /ping and Prometheus /metrics on its
// debug address.
package debugserver

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/diego-runtime/diego/internal/transport"
)

// Handler answers /ping with 200 and /metrics from the registry (the default
// registry when nil).
func Handler(registry *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	if registry == nil {
		mux.Handle("GET /metrics", promhttp.Handler())
	} else {
		mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	}
	return mux
}

// New listens on address (plain HTTP: debug addresses are local) and returns the
// server as an ifrit runner.
func New(address string, registry *prometheus.Registry) (*transport.Server, error) {
	return transport.NewServer(transport.TLS{}, address, Handler(registry))
}
