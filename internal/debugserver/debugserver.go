// Package debugserver serves a daemon's /ping, Prometheus /metrics and Go's
// profiles (/debug/pprof/) on its debug address.
package debugserver

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/diego-runtime/diego/internal/transport"
)

// Handler answers /ping with 200, /metrics from the registry (the default
// registry when nil), and /debug/pprof/ with the process's profiles: a
// debug address is local to its machine (and behind the cell's perimeter),
// and a profile taken under load is how slowness is found.
func Handler(registry *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	if registry == nil {
		mux.Handle("GET /metrics", promhttp.Handler())
	} else {
		mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// New listens on address (plain HTTP: debug addresses are local) and returns the
// server as an ifrit runner.
func New(address string, registry *prometheus.Registry) (*transport.Server, error) {
	return transport.NewServer(transport.TLS{}, address, Handler(registry))
}
