// Command rep runs a cell's representative and executor against a garden.
package main

import (
	"fmt"
	"os"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	bbsclient "github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/natsclient"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/rep"
)

func main() { daemon.Main("rep", run, defaults) }

// fileConfig is the rep's config file: rep.Config, whose executor works for
// the cell the file names in cell_id.
type fileConfig struct{ rep.Config }

// Validate gives the executor the cell id, then validates.
func (c *fileConfig) Validate() error {
	c.Executor.CellID = c.CellID
	return c.Config.Validate()
}

// defaults is the config run loads its file into.
func defaults() config.Validator { return &fileConfig{rep.DefaultConfig()} }

func run(configPath string) error {
	file := &fileConfig{rep.DefaultConfig()}
	if err := config.LoadValid(configPath, file); err != nil {
		return err
	}
	cfg := file.Config

	logger, err := daemon.NewLogger("rep", cfg.LogLevel)
	if err != nil {
		return err
	}
	clk := clock.NewClock()

	httpClient, err := transport.NewClient(cfg.TLS, cfg.BBSTimeout)
	if err != nil {
		return err
	}
	bbs := bbsclient.NewClient(httpClient, cfg.BBSURLs...)

	// Replies to the rep's JetStream calls come to its own inboxes, the
	// only ones its NATS user may read (natsrunner.RoleUsers).
	natsConn, err := natsclient.Connect(logger, natsclient.Options{Name: "rep-" + cfg.CellID, URLs: cfg.NATSURLs,
		TLS: cfg.NATSTLS, InboxPrefix: natsclient.RepInboxPrefix(cfg.CellID)})
	if err != nil {
		return err
	}
	defer natsConn.Close()
	js, err := jetstream.New(natsConn)
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}

	logs := &logstream.Emitter{Publisher: natsConn, Clock: clk, Logger: logger, LinesPerSecond: cfg.LogRateLimit}
	exec := executor.New(logger, cfg.Executor, garden.NewClient(cfg.GardenSocket), logs, natsConn, clk)
	r := rep.New(logger, cfg, bbs, exec, clk)
	api, err := transport.NewLinkServer(cfg.TLS, cfg.ListenAddress, r.Handler())
	if err != nil {
		return err
	}
	admin, err := transport.NewServer(transport.TLS{}, cfg.AdminListenAddress, r.AdminHandler())
	if err != nil {
		return err
	}
	prometheus.MustRegister(exec.Collectors()...)
	debug, err := debugserver.New(cfg.DebugAddress, nil)
	if err != nil {
		return err
	}

	members := grouper.Members{
		{Name: "debug", Runner: debug},
		{Name: "logs-stream", Runner: &natsclient.StreamCheck{Logger: logger, Clock: clk, JS: js, Config: cfg.LogsStream}},
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
	err = <-process.Wait()
	if err != nil {
		logger.Error("exited", err)
	}
	return err
}
