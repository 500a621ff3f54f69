// Command converger reconciles desired against actual state (DESIGN 7.2). Run
// several; one holds the "converger" lock and works, the others wait.
package main

import (
	"fmt"
	"os"
	"time"

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
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
)

// Config is the converger's JSON config file.
type Config struct {
	// BBSURLs are the BBS API servers, tried in turn; required.
	BBSURLs []string `json:"bbs_urls"`
	// TLS for calls to the BBS; empty means plain HTTP. Default empty.
	TLS transport.TLS `json:"tls"`
	// Etcd is where the lock lives and where cell presences are watched (read
	// only) so a vanished cell triggers a pass at once; endpoints are required.
	Etcd etcdrunner.ClientConfig `json:"etcd"`
	// CellsPrefix is the BBS's etcd prefix of cell presences. Default "/diego/v1/cells/".
	CellsPrefix string `json:"cells_prefix"`
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17002".
	DebugAddress string `json:"debug_address"`
	// LockName is the lock that elects the active converger. Default "converger".
	LockName string `json:"lock_name"`
	// LockTTL is how long a dead holder keeps the lock. Default "15s"
	// (lock.DefaultTTL).
	LockTTL time.Duration `json:"lock_ttl"`
	// ConvergenceInterval is the time between passes. Default "30s".
	ConvergenceInterval time.Duration `json:"convergence_interval"`
	// StaleUnclaimed: an UNCLAIMED instance older than this is auctioned again. Default "30s".
	StaleUnclaimed time.Duration `json:"stale_unclaimed"`
	// TaskKickInterval: a PENDING task not updated for this long is auctioned again. Default "30s".
	TaskKickInterval time.Duration `json:"task_kick_interval"`
	// PendingTaskExpiry: a task PENDING this long fails. Default "30m".
	PendingTaskExpiry time.Duration `json:"pending_task_expiry"`
	// CompletedTaskRetention: a COMPLETED task is deleted this long after it first completed. Default "2m".
	CompletedTaskRetention time.Duration `json:"completed_task_retention"`
	// ResolvingTimeout: a task RESOLVING this long goes back to COMPLETED. Default "30s".
	ResolvingTimeout time.Duration `json:"resolving_timeout"`
	// MassLossFraction: more than this fraction of the cells holding work
	// (and at least two) missing at once is a mass loss. Default 0.5.
	MassLossFraction float64 `json:"mass_loss_fraction"`
	// MassLossHold is how long a mass loss must last before the converger
	// marks those cells' instances suspect and fails their tasks. Default "1m".
	MassLossHold time.Duration `json:"mass_loss_hold"`
	// AbsentCellTaskGrace: a RUNNING task fails as "cell disappeared before
	// completion" only once its cell has been absent this long, so a cell
	// whose presence blipped keeps its tasks. Default "30s" (twice the
	// presence TTL).
	AbsentCellTaskGrace time.Duration `json:"absent_cell_task_grace"`
	// MaxInstances bounds the indices a pass walks per desired LRP; keep it
	// the BBS's max_instances. Default 10000.
	MaxInstances int `json:"max_instances"`
	// Workers is how many BBS calls a pass makes at once. Default 16.
	Workers int `json:"workers"`
	// RequestTimeout bounds each BBS call. Default "30s".
	RequestTimeout time.Duration `json:"request_timeout"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{
		CellsPrefix:            converger.DefaultCellsPrefix,
		DebugAddress:           "127.0.0.1:17002",
		LockName:               "converger",
		LockTTL:                lock.DefaultTTL,
		ConvergenceInterval:    converger.DefaultInterval,
		StaleUnclaimed:         converger.DefaultStaleUnclaimedTimeout,
		TaskKickInterval:       converger.DefaultTaskKickInterval,
		PendingTaskExpiry:      converger.DefaultPendingTaskExpiry,
		CompletedTaskRetention: converger.DefaultCompletedTaskRetention,
		ResolvingTimeout:       converger.DefaultResolvingTaskTimeout,
		Workers:                converger.DefaultWorkers,
		MassLossFraction:       converger.DefaultMassLossFraction,
		MassLossHold:           converger.DefaultMassLossHold,
		AbsentCellTaskGrace:    converger.DefaultAbsentCellTaskGrace,
		RequestTimeout:         converger.DefaultRequestTimeout,
		LogLevel:               "info",
	}
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var p config.Problems
	p.Check(len(c.BBSURLs) > 0, "bbs_urls", "is required")
	p.Check(len(c.Etcd.Endpoints) > 0, "etcd.endpoints", "is required")
	p.Check(c.LockName != "", "lock_name", "is required")
	p.Check(c.CellsPrefix != "", "cells_prefix", "is required")
	p.Check(c.LockTTL >= time.Second, "lock_ttl", "must be at least 1s")
	p.Positive(map[string]time.Duration{
		"convergence_interval": c.ConvergenceInterval, "stale_unclaimed": c.StaleUnclaimed,
		"task_kick_interval": c.TaskKickInterval, "pending_task_expiry": c.PendingTaskExpiry,
		"completed_task_retention": c.CompletedTaskRetention, "resolving_timeout": c.ResolvingTimeout,
		"request_timeout": c.RequestTimeout,
	})
	p.Check(c.Workers > 0, "workers", "must be positive")
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	return p.Err()
}

func main() { daemon.Main("converger", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := DefaultConfig(); return &c }

func run(configPath string) error {
	cfg := DefaultConfig()
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
