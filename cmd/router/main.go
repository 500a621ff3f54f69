// Command router is the HTTP router (DESIGN 10): a reverse proxy whose route
// table is fed only by router.register / router.unregister messages on NATS.
// Run several; they share nothing.
package main

import (
	"errors"
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
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/routing/router"
)

// Config is the router's JSON config file: the router's own settings
// (listen_address, nats_urls, id, hosts, dial_timeout, prune_threshold,
// prune_interval, publisher_silence, tries, failed_endpoint_holdoff, start_message_interval,
// register_interval, shutdown_timeout; see router.Config for each default)
// plus where to serve /ping and /metrics, where to write the access log and
// how much to log.
type Config struct {
	router.Config
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17017".
	DebugAddress string `json:"debug_address"`
	// AccessLogPath is a file that gets one line per request; "" logs each
	// request as a lager event on stdout, "-" writes the lines to stdout.
	// Default "".
	AccessLogPath string `json:"access_log_path"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{Config: router.DefaultConfig(), DebugAddress: "127.0.0.1:17017", LogLevel: "info"}
}

// Validate reports what is wrong with the config.
func (c Config) Validate() error {
	if c.DebugAddress == "" {
		return errors.New("debug_address is required")
	}
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	return c.Config.Validate()
}

func main() { daemon.Main("router", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := DefaultConfig(); return &c }

func run(configPath string) error {
	cfg := DefaultConfig()
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
