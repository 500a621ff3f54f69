// Command receptor serves Diego's public API (docs/api.md) and delivers task
// completion callbacks. It holds no state; run several.
package main

import (
	"fmt"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/natsclient"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/internal/version"
	"github.com/diego-runtime/diego/receptor"
)

func main() { daemon.Main("receptor", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := daemonconfig.DefaultReceptor(); return &c }

func run(configPath string) error {
	cfg := daemonconfig.DefaultReceptor()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("receptor", cfg.LogLevel)
	if err != nil {
		return err
	}

	httpClient, err := transport.NewClient(cfg.BBSTLS, cfg.BBSRequestTimeout)
	if err != nil {
		return err
	}
	bbs := client.NewClient(httpClient, cfg.BBSURLs...)
	options := receptor.Options{
		Username:            cfg.Username,
		Password:            cfg.Password,
		CORSOrigins:         cfg.CORSOrigins,
		AllowedHosts:        cfg.AllowedHosts,
		MaxStreamsPerClient: cfg.MaxStreamsPerClient,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		Registerer:          prometheus.DefaultRegisterer,
	}
	var streamCheck ifrit.Runner = noop{}
	if len(cfg.NATSURLs) > 0 {
		// Connect in the background: the API serves while NATS is away, and
		// the logs route answers 503 until it is back.
		nc, err := natsclient.Connect(logger, natsclient.Options{Name: "receptor", URLs: cfg.NATSURLs, TLS: cfg.NATSTLS})
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return fmt.Errorf("opening JetStream: %w", err)
		}
		streamCheck = &natsclient.StreamCheck{Logger: logger, Clock: clock.NewClock(), JS: js, Config: cfg.LogsStream}
		options.Logs = &receptor.LogStream{Logger: logger, JS: js}
		options.Metrics = receptor.NewMetricsCache(logger, clock.NewClock(), 0)
		if _, err := options.Metrics.Subscribe(nc); err != nil {
			return fmt.Errorf("subscribing to instance metrics: %w", err)
		}
	}
	handler := receptor.NewHandler(logger, bbs, options)
	listener, err := receptor.Listen(cfg.ListenAddress, cfg.TLSFiles)
	if err != nil {
		return err
	}
	api := &transport.Server{Listener: listener, Handler: handler, ShutdownTimeout: 10 * time.Second}
	debug, err := transport.NewServer(transport.TLS{}, cfg.DebugAddress, debugserver.Handler(nil))
	if err != nil {
		return err
	}
	callbacks := &receptor.TaskCompletionWorker{
		Logger:                 logger,
		BBS:                    bbs,
		KickInterval:           cfg.CallbackKickInterval,
		ResolvingRenewInterval: cfg.ResolvingRenewInterval,
		DenyNetworks:           cfg.CallbackDenyNetworks,
		AllowLoopback:          cfg.AllowLoopbackCallbacks,
	}
	logger.Info("starting", lager.Data{"listen_address": api.Addr(), "https": cfg.TLSFiles.Enabled(),
		"debug_address": debug.Addr(), "version": version.Release()})
	group := grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "debug-server", Runner: debug},
		{Name: "logs-stream", Runner: streamCheck},
		{Name: "task-callbacks", Runner: callbacks},
		{Name: "api-server", Runner: api},
		{Name: "event-streams", Runner: handler}, // stops first, ending open streams
	})
	process := ifrit.Invoke(sigmon.New(group))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}

// noop stands in for the log stream check when the receptor has no NATS.
type noop struct{}

func (noop) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	<-signals
	return nil
}
