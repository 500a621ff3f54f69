package auctioneer

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
)

// Deps are what New needs built outside: the BBS client and the etcd client
// that holds the lock. Registry and Clock are optional.
type Deps struct {
	BBS      BBS
	Etcd     *clientv3.Client
	Clock    clock.Clock          // default: the real clock
	Registry *prometheus.Registry // default: a fresh registry
}

// Daemon is a whole auctioneer: its runner, and the addresses it serves.
type Daemon struct {
	Group        ifrit.Runner
	Auctions     *Runner
	URL          string // the advertised URL, the lock's value
	Address      string // where the auction API listens
	DebugAddress string
}

// Run implements ifrit.Runner.
func (d *Daemon) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	return d.Group.Run(signals, ready)
}

// New wires an auctioneer as an ordered group: the debug server, the auction
// API (answering 503 while standby), the lock, and once the lock is held the
// auction runner, which switches the API on. The BBS finds the active one
// through lock.Holder. Listeners are opened here, so port 0 works.
func New(logger lager.Logger, cfg Config, deps Deps) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auctioneer config: %w", err)
	}
	clk := deps.Clock
	if clk == nil {
		clk = clock.NewClock()
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	repHTTP, err := transport.NewClient(cfg.TLS, 0)
	if err != nil {
		return nil, fmt.Errorf("auctioneer rep client: %w", err)
	}

	// Listen now so that the advertised URL is right with port 0.
	apiListener, err := transport.ListenLink(cfg.TLS, cfg.ListenAddress)
	if err != nil {
		return nil, err
	}
	advertise := cfg.AdvertiseURL
	if advertise == "" {
		_, port, _ := net.SplitHostPort(apiListener.Addr().String())
		advertise = fmt.Sprintf(defaultAdvertiseURLFormat, cfg.TLS.Scheme(), port)
	}
	debugListener, err := net.Listen("tcp", cfg.DebugAddress)
	if err != nil {
		apiListener.Close()
		return nil, fmt.Errorf("listening on debug address %s: %w", cfg.DebugAddress, err)
	}

	auct := &Auctioneer{
		Logger:      logger,
		Clock:       clk,
		BBS:         deps.BBS,
		Scheduler:   Scheduler{Weights: cfg.Weights(), MaxInflightStarts: cfg.MaxInflightStarts},
		HTTP:        repHTTP,
		RepScheme:   cfg.TLS.Scheme(),
		CellTimeout: cfg.CellStateTimeout,
		Metrics:     NewMetrics(reg),
	}
	runner := &Runner{
		Logger:     logger,
		Clock:      clk,
		Auctioneer: auct,
		RetryDelay: cfg.RetryDelay,
	}
	debugMux := http.NewServeMux()
	debugMux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	debugMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// Under mutual TLS only the BBS may ask for auctions; /ping is for any
	// caller of the CA.
	api := NewHandler(logger, runner)
	apiMux := http.NewServeMux()
	apiMux.Handle("GET /ping", api)
	apiMux.Handle("/", transport.RequireRoles(logger, cfg.TLS.Enabled(), api, certs.RoleBBS))
	members := grouper.Members{
		{Name: "debug-server", Runner: &transport.Server{Listener: debugListener, Handler: debugMux, ShutdownTimeout: 5 * time.Second}},
		{Name: "server", Runner: &transport.Server{Listener: apiListener, Handler: apiMux, ShutdownTimeout: 10 * time.Second}},
		{Name: "lock", Runner: &lock.Runner{Logger: logger, Client: deps.Etcd, Name: DefaultLockName, Value: advertise, TTL: cfg.LockTTL}},
		{Name: "auction-runner", Runner: runner},
	}
	return &Daemon{
		Group:        grouper.NewOrdered(os.Interrupt, members),
		Auctions:     runner,
		URL:          advertise,
		Address:      apiListener.Addr().String(),
		DebugAddress: debugListener.Addr().String(),
	}, nil
}
