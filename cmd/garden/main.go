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
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
)

func main() { daemon.Main("garden", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := daemonconfig.DefaultGarden(); return &c }

func run(configPath string) error {
	cfg := daemonconfig.DefaultGarden()
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
