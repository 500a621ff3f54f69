// Command rep runs a cell's representative and executor against a garden.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	bbsclient "github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/rep"
)

func main() {
	configPath := flag.String("config", "", "path to the rep's JSON config")
	flag.Parse()

	cfg := rep.DefaultConfig()
	if err := config.Load(*configPath, &cfg); err != nil {
		fail(err)
	}
	cfg.Executor.CellID = cfg.CellID
	if err := cfg.Validate(); err != nil {
		fail(err)
	}

	logger := lager.NewLogger("rep")
	logger.RegisterSink(lager.NewWriterSink(os.Stdout, lager.INFO))
	clk := clock.NewClock()

	httpClient, err := transport.NewClient(cfg.TLS, 30*time.Second)
	if err != nil {
		fail(err)
	}
	bbs := bbsclient.NewClient(httpClient, cfg.BBSURLs...)

	natsTLS, err := transport.NATSOption(cfg.NATSTLS)
	if err != nil {
		fail(err)
	}
	natsConn, err := nats.Connect(cfg.NATSURL, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.Name("rep-"+cfg.CellID), natsTLS)
	if err != nil {
		fail(fmt.Errorf("connecting to NATS: %w", err))
	}
	defer natsConn.Close()

	logs := &logstream.Emitter{Publisher: natsConn, Clock: clk, Logger: logger, LinesPerSecond: cfg.LogRateLimit}
	exec := executor.New(logger, cfg.Executor, garden.NewClient(cfg.GardenSocket), logs, natsConn, clk)
	r := rep.New(logger, cfg, bbs, exec, clk)
	api, err := transport.NewLinkServer(cfg.TLS, cfg.ListenAddress, r.Handler())
	if err != nil {
		fail(err)
	}
	admin, err := transport.NewServer(transport.TLS{}, cfg.AdminListenAddress, r.AdminHandler())
	if err != nil {
		fail(err)
	}
	prometheus.MustRegister(exec.Collectors()...)
	debug, err := debugserver.New(cfg.DebugAddress, nil)
	if err != nil {
		fail(err)
	}

	members := grouper.Members{
		{Name: "debug", Runner: debug},
		{Name: "processor", Runner: rep.Processor{Rep: r}},
		// After the processor, so adopted instances' events are reported; before
		// the harmonizer, which gives no record away until adoption is complete.
		{Name: "adopter", Runner: rep.Adopter{Rep: r, Interval: cfg.AdoptionRetryInterval}},
		{Name: "harmonizer", Runner: rep.Harmonizer{Rep: r, Interval: cfg.HarmonizeInterval}},
		{Name: "api", Runner: api},
		{Name: "admin", Runner: admin},
		{Name: "presence", Runner: &rep.Presence{
			Logger: logger, BBS: bbs, Clock: clk, Record: r.PresenceRecord,
			TTL: cfg.PresenceTTL, Interval: cfg.HeartbeatInterval,
		}},
		{Name: "evacuator", Runner: rep.Evacuator{Rep: r}},
	}
	process := ifrit.Invoke(sigmon.New(grouper.NewOrdered(os.Interrupt, members)))
	logger.Info("started", lager.Data{"cell_id": cfg.CellID, "listen": api.Addr()})
	if err := <-process.Wait(); err != nil {
		logger.Error("exited", err)
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "rep: %v\n", err)
	os.Exit(1)
}
