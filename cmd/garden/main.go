// Command garden is the per-cell container daemon: it serves garden's API on a
// unix socket and runs containers with runc. It must run as root.
package main

import (
	"context"
	"fmt"
	"os"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/garden/linux"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
)

// Config is garden's JSON config file: the daemon's fields (see
// linux.DaemonConfig and linux.Config, each documents its default) plus the
// debug server and log level.
type Config struct {
	linux.DaemonConfig
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17013".
	DebugAddress string `json:"debug_address"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{DaemonConfig: linux.DefaultDaemonConfig(), DebugAddress: "127.0.0.1:17013", LogLevel: "info"}
}

// Validate reports the first problem with the config.
func (c *Config) Validate() error {
	if err := c.DaemonConfig.Validate(); err != nil {
		return err
	}
	_, err := lager.LogLevelFromString(c.LogLevel)
	return err
}

func main() { daemon.Main("garden", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := DefaultConfig(); return &c }

func run(configPath string) error {
	cfg := DefaultConfig()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("garden", cfg.LogLevel)
	if err != nil {
		return err
	}

	daemon, err := linux.NewDaemon(logger, clock.NewClock(), cfg.DaemonConfig)
	if err != nil {
		return err
	}
	prometheus.MustRegister(prometheus.NewGaugeFunc(
		prometheus.GaugeOpts{Name: "garden_containers", Help: "Containers that exist on this garden."},
		func() float64 {
			c, _ := daemon.Backend.Capacity(context.Background())
			return float64(c.Containers)
		}))
	prometheus.MustRegister(daemon.Collectors()...)
	debug, err := transport.NewServer(transport.TLS{}, cfg.DebugAddress, debugserver.Handler(nil))
	if err != nil {
		return err
	}
	logger.Info("starting", lager.Data{"socket": cfg.SocketPath, "state_dir": cfg.StateDir, "debug_address": debug.Addr()})
	group := grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "debug-server", Runner: debug},
		{Name: "garden", Runner: daemon},
	})
	process := ifrit.Invoke(sigmon.New(group))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}
