// Command converger reconciles desired against actual state (DESIGN 7.2). Run
// several; one holds the "converger" lock and works, the others wait.
package main

import (
	"fmt"
	"os"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
)

func main() { daemon.Main("converger", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := daemonconfig.DefaultConverger(); return &c }

func run(configPath string) error {
	cfg := daemonconfig.DefaultConverger()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("converger", cfg.LogLevel)
	if err != nil {
		return err
	}
	etcd, err := etcdrunner.NewClient(cfg.Etcd)
	if err != nil {
		return err
	}
	defer etcd.Close()
	httpClient, err := transport.NewClient(cfg.TLS, cfg.RequestTimeout)
	if err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	conv := converger.New(converger.Options{
		Logger:  logger,
		Clock:   clock.NewClock(),
		BBS:     client.NewClient(httpClient, cfg.BBSURLs...),
		Metrics: converger.NewMetrics(registry),
		Config: converger.Config{
			Interval: cfg.ConvergenceInterval,
			Rules: converger.Rules{
				StaleUnclaimedTimeout:  cfg.StaleUnclaimed,
				TaskKickInterval:       cfg.TaskKickInterval,
				PendingTaskExpiry:      cfg.PendingTaskExpiry,
				CompletedTaskRetention: cfg.CompletedTaskRetention,
				ResolvingTaskTimeout:   cfg.ResolvingTimeout,
				MaxInstances:           cfg.MaxInstances,
				MassLossFraction:       cfg.MassLossFraction,
				AbsentCellTaskGrace:    cfg.AbsentCellTaskGrace,
			},
			MassLossHold:   cfg.MassLossHold,
			Workers:        cfg.Workers,
			RequestTimeout: cfg.RequestTimeout,
		},
	})
	debug, err := transport.NewServer(transport.TLS{}, cfg.DebugAddress, debugserver.Handler(registry))
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	logger.Info("starting", lager.Data{"debug_address": debug.Addr()})
	group := grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "debug-server", Runner: debug},
		{Name: "lock", Runner: &lock.Runner{Logger: logger, Client: etcd, Name: cfg.LockName,
			Value: fmt.Sprintf("%s:%d", hostname, os.Getpid()), TTL: cfg.LockTTL}},
		{Name: "cell-watch", Runner: &converger.CellWatch{Logger: logger, Clock: clock.NewClock(), Client: etcd,
			Prefix: cfg.CellsPrefix, OnGone: func(string) { conv.Trigger() }}},
		{Name: "converger", Runner: conv},
	})
	process := ifrit.Invoke(sigmon.New(group))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}
