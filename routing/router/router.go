package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/routing/messages"
)

// Options holds a Router's collaborators; every field may be left zero.
type Options struct {
	// Clock drives pruning, holdoffs and timings. Nil means the real clock.
	Clock clock.Clock
	// AccessLog receives one line per request. Nil logs each request
	// through the logger instead.
	AccessLog io.Writer
	// Registry receives the router's metrics. Nil means a new registry,
	// available from Registry().
	Registry *prometheus.Registry
	// Selector picks endpoints. Nil means RoundRobin.
	Selector Selector
}

// Router is the HTTP router as an ifrit runner.
type Router struct {
	config   Config
	logger   lager.Logger
	clock    clock.Clock
	table    *Table
	metrics  *metrics
	registry *prometheus.Registry
	listener net.Listener
	handler  *proxy
	sub      *subscriber
	gate     *pruneGate
}

// New listens on config.ListenAddress (so Addr is known before Run) and
// builds the router. Nothing is served until Run.
func New(logger lager.Logger, config Config, opts Options) (*Router, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	logger = logger.Session("router")
	if opts.Clock == nil {
		opts.Clock = clock.NewClock()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Selector == nil {
		opts.Selector = RoundRobin{}
	}
	if config.ID == "" {
		config.ID = newRequestID()
	}
	table := NewTable(config.PruneThreshold)
	m := newMetrics(opts.Registry, table)
	transport := &retryTransport{
		inner:    newBackendTransport(config.DialTimeout),
		selector: opts.Selector,
		table:    table,
		tries:    config.Tries,
		attempts: config.MaxAttempts,
		holdoff:  config.FailedEndpointHoldoff,
		clock:    opts.Clock,
		onRetry:  func(route string) { m.retries.WithLabelValues(route).Inc() },
	}
	gate := newPruneGate(config.PruneInterval, config.PublisherSilence)
	opts.Registry.MustRegister(gate.collectors()...)
	access := &accessLog{w: opts.AccessLog, logger: logger.Session("access")}
	l, err := net.Listen("tcp", config.ListenAddress)
	if err != nil {
		return nil, fmt.Errorf("router: listening on %s: %w", config.ListenAddress, err)
	}
	hosts := config.Hosts
	if hosts == nil {
		hosts = []string{}
	}
	return &Router{
		config:   config,
		logger:   logger,
		clock:    opts.Clock,
		table:    table,
		metrics:  m,
		registry: opts.Registry,
		listener: framingListener{l},
		handler:  newProxy(logger, opts.Clock, table, m, transport, access),
		gate:     gate,
		sub: &subscriber{table: table, clock: opts.Clock, metrics: m, logger: logger.Session("nats"), gate: gate,
			start: messages.RouterStart{
				ID:                               config.ID,
				Hosts:                            hosts,
				MinimumRegisterIntervalInSeconds: int(config.RegisterInterval / time.Second),
				PruneThresholdInSeconds:          int(config.PruneThreshold / time.Second),
			}},
	}, nil
}

// Addr is the address the proxy listens on.
func (r *Router) Addr() string { return r.listener.Addr().String() }

// Table is the router's route table.
func (r *Router) Table() *Table { return r.table }

// Registry holds the router's metrics.
func (r *Router) Registry() *prometheus.Registry { return r.registry }

// StartMessage is what the router publishes on router.start and answers to
// router.greet.
func (r *Router) StartMessage() messages.RouterStart { return r.sub.start }

// DebugHandler serves /ping, Prometheus /metrics and /routes (the route
// table as JSON: hostname -> endpoint addresses) for the debug address.
func (r *Router) DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/routes", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.table.Snapshot())
	})
	mux.Handle("/metrics", promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{}))
	return mux
}

// Run implements ifrit.Runner. It is ready once it listens and its NATS
// subscription is in place (NATS may still be unreachable: the router then
// serves the routes it has and keeps reconnecting). On a signal it stops
// accepting connections and lets in-flight requests finish, for at most
// ShutdownTimeout.
func (r *Router) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	defer r.listener.Close()
	nc, err := r.connectNATS()
	if err != nil {
		return err
	}
	defer nc.Close()
	sub, err := nc.Subscribe(routerSubjects, r.sub.handle)
	if err != nil {
		return fmt.Errorf("router: subscribing to %s: %w", routerSubjects, err)
	}
	// A burst of registrations (a whole foundation re-registering) must not
	// be dropped as a slow consumer.
	if err := sub.SetPendingLimits(1_000_000, 512<<20); err != nil {
		return fmt.Errorf("router: setting pending limits: %w", err)
	}
	if nc.IsConnected() {
		r.gate.natsUp(r.clock.Now())
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			r.logger.Error("flushing-subscription", err)
		}
	}
	r.publishStart(nc)

	server := &http.Server{
		Handler:           r.handler,
		ConnContext:       withFramingConn,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          log.New(lagerWriter{r.logger.Session("http-server")}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(r.listener) }()

	pruneTicker := r.clock.NewTicker(r.config.PruneInterval)
	defer pruneTicker.Stop()
	startTicker := r.clock.NewTicker(r.config.StartMessageInterval)
	defer startTicker.Stop()

	r.logger.Info("started", lager.Data{"address": r.Addr(), "id": r.config.ID})
	close(ready)
	for {
		select {
		case <-pruneTicker.C():
			r.prune()
		case <-startTicker.C():
			r.publishStart(nc)
		case err := <-served:
			return fmt.Errorf("router: serving: %w", err)
		case sig := <-signals:
			r.logger.Info("stopping", lager.Data{"signal": fmt.Sprint(sig)})
			return r.shutdown(server)
		}
	}
}

// prune sweeps stale endpoints unless the gate says the router cannot tell
// a stale endpoint from a registration it could not hear.
func (r *Router) prune() {
	now := r.clock.Now()
	wasSuspended := r.gate.isSuspended()
	ok, reason := r.gate.allow(now)
	if !ok {
		if !wasSuspended {
			r.logger.Info("pruning-suspended", lager.Data{"reason": reason})
		}
		return
	}
	if wasSuspended {
		r.logger.Info("pruning-resumed")
	}
	if n := r.table.Prune(now); n > 0 {
		r.metrics.pruned.Add(float64(n))
		r.logger.Info("pruned", lager.Data{"endpoints": n})
	}
}

func (r *Router) shutdown(server *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.config.ShutdownTimeout)
	defer cancel()
	err := server.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		r.logger.Info("shutdown-timed-out-closing")
		return server.Close()
	}
	return err
}

func (r *Router) connectNATS() (*nats.Conn, error) {
	natsTLS, err := transport.NATSOption(r.config.NATSTLS)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	nc, err := nats.Connect(strings.Join(r.config.NATSURLs, ","),
		natsTLS,
		nats.Name("diego-router-"+r.config.ID),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		// A NATS server that went silent without closing the connection is
		// noticed within about 40 s, well inside the prune threshold, so
		// pruning stops before endpoints could go stale unheard.
		nats.PingInterval(natsPingInterval),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(nc *nats.Conn) {
			r.gate.natsUp(r.clock.Now())
			r.publishStart(nc)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			r.gate.natsUp(r.clock.Now())
			r.logger.Info("nats-reconnected", lager.Data{"url": nc.ConnectedUrl()})
			r.publishStart(nc)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			r.gate.natsDown()
			if err != nil {
				r.logger.Error("nats-disconnected", err)
			}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("router: connecting to NATS %v: %w", r.config.NATSURLs, err)
	}
	return nc, nil
}

// natsPingInterval is how often the router checks that NATS still answers.
const natsPingInterval = 20 * time.Second

// publishStart announces the router, so publishers (re)send every route.
func (r *Router) publishStart(nc *nats.Conn) {
	if err := nc.Publish(messages.SubjectStart, r.sub.startPayload()); err != nil {
		r.logger.Error("publishing-start", err)
	}
}
