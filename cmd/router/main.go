// Command router is the HTTP router (DESIGN 10): a reverse proxy whose route
// table is fed only by router.register / router.unregister messages on NATS.
// Run several; they share nothing.
package main

import (
	"fmt"
	"io"
	"os"

	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/routing/router"
)

func main() { daemon.Main("router", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := daemonconfig.DefaultRouter(); return &c }

func run(configPath string) error {
	cfg := daemonconfig.DefaultRouter()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("router", cfg.LogLevel)
	if err != nil {
		return err
	}

	var accessLog io.Writer
	switch cfg.AccessLogPath {
	case "":
	case "-":
		accessLog = os.Stdout
	default:
		f, err := os.OpenFile(cfg.AccessLogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("opening access log: %w", err)
		}
		defer f.Close()
		accessLog = f
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	proxy, err := router.New(logger, cfg.Config, router.Options{AccessLog: accessLog, Registry: reg})
	if err != nil {
		return err
	}
	debug, err := transport.NewServer(transport.TLS{}, cfg.DebugAddress, proxy.DebugHandler())
	if err != nil {
		return fmt.Errorf("debug server: %w", err)
	}

	members := grouper.Members{
		{Name: "debug-server", Runner: debug},
		{Name: "router", Runner: proxy},
	}
	logger.Info("starting", lager.Data{"listen": proxy.Addr(), "debug": debug.Addr(), "nats": cfg.NATSURLs})
	process := ifrit.Invoke(sigmon.New(grouper.NewOrdered(os.Interrupt, members)))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}
