// Command converger reconciles desired against actual state (DESIGN 7.2). Run
// several; one holds the "converger" lock and works, the others wait.
package main

import (
	"errors"
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

// Config is the converger's JSON config file. Durations are milliseconds.
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
	// LockTTLMs is how long a dead holder keeps the lock. Default 15000.
	LockTTLMs int `json:"lock_ttl_ms"`
	// ConvergenceIntervalMs is the time between passes. Default 30000.
	ConvergenceIntervalMs int `json:"convergence_interval_ms"`
	// StaleUnclaimedMs: an UNCLAIMED instance older than this is auctioned again. Default 30000.
	StaleUnclaimedMs int `json:"stale_unclaimed_ms"`
	// TaskKickIntervalMs: a PENDING task not updated for this long is auctioned again. Default 30000.
	TaskKickIntervalMs int `json:"task_kick_interval_ms"`
	// PendingTaskExpiryMs: a task PENDING this long fails. Default 1800000 (30 min).
	PendingTaskExpiryMs int `json:"pending_task_expiry_ms"`
	// CompletedTaskRetentionMs: a COMPLETED task is deleted this long after it first completed. Default 120000 (2 min).
	CompletedTaskRetentionMs int `json:"completed_task_retention_ms"`
	// ResolvingTimeoutMs: a task RESOLVING this long goes back to COMPLETED. Default 30000.
	ResolvingTimeoutMs int `json:"resolving_timeout_ms"`
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
	// RequestTimeoutMs bounds each BBS call. Default 30000.
	RequestTimeoutMs int `json:"request_timeout_ms"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	return Config{
		CellsPrefix:              converger.DefaultCellsPrefix,
		DebugAddress:             "127.0.0.1:17002",
		LockName:                 "converger",
		LockTTLMs:                15000,
		ConvergenceIntervalMs:    ms(converger.DefaultInterval),
		StaleUnclaimedMs:         ms(converger.DefaultStaleUnclaimedTimeout),
		TaskKickIntervalMs:       ms(converger.DefaultTaskKickInterval),
		PendingTaskExpiryMs:      ms(converger.DefaultPendingTaskExpiry),
		CompletedTaskRetentionMs: ms(converger.DefaultCompletedTaskRetention),
		ResolvingTimeoutMs:       ms(converger.DefaultResolvingTaskTimeout),
		Workers:                  converger.DefaultWorkers,
		MassLossFraction:         converger.DefaultMassLossFraction,
		MassLossHold:             converger.DefaultMassLossHold,
		AbsentCellTaskGrace:      converger.DefaultAbsentCellTaskGrace,
		RequestTimeoutMs:         ms(converger.DefaultRequestTimeout),
		LogLevel:                 "info",
	}
}

// Validate reports the first problem with the config.
func (c Config) Validate() error {
	switch {
	case len(c.BBSURLs) == 0:
		return errors.New("bbs_urls is required")
	case len(c.Etcd.Endpoints) == 0:
		return errors.New("etcd.endpoints is required")
	case c.LockName == "" || c.CellsPrefix == "":
		return errors.New("lock_name and cells_prefix are required")
	case c.LockTTLMs < 1000:
		return errors.New("lock_ttl_ms must be at least 1000")
	case c.ConvergenceIntervalMs <= 0 || c.StaleUnclaimedMs <= 0 || c.TaskKickIntervalMs <= 0 ||
		c.PendingTaskExpiryMs <= 0 || c.CompletedTaskRetentionMs <= 0 || c.ResolvingTimeoutMs <= 0:
		return errors.New("every interval must be positive")
	case c.Workers <= 0 || c.RequestTimeoutMs <= 0:
		return errors.New("workers and request_timeout_ms must be positive")
	}
	_, err := lager.LogLevelFromString(c.LogLevel)
	return err
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
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }

	etcd, err := etcdrunner.NewClient(cfg.Etcd)
	if err != nil {
		return err
	}
	defer etcd.Close()
	httpClient, err := transport.NewClient(cfg.TLS, ms(cfg.RequestTimeoutMs))
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
			Interval: ms(cfg.ConvergenceIntervalMs),
			Rules: converger.Rules{
				StaleUnclaimedTimeout:  ms(cfg.StaleUnclaimedMs),
				TaskKickInterval:       ms(cfg.TaskKickIntervalMs),
				PendingTaskExpiry:      ms(cfg.PendingTaskExpiryMs),
				CompletedTaskRetention: ms(cfg.CompletedTaskRetentionMs),
				ResolvingTaskTimeout:   ms(cfg.ResolvingTimeoutMs),
				MaxInstances:           cfg.MaxInstances,
				MassLossFraction:       cfg.MassLossFraction,
				AbsentCellTaskGrace:    cfg.AbsentCellTaskGrace,
			},
			MassLossHold:   cfg.MassLossHold,
			Workers:        cfg.Workers,
			RequestTimeout: ms(cfg.RequestTimeoutMs),
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
			Value: fmt.Sprintf("%s:%d", hostname, os.Getpid()), TTL: ms(cfg.LockTTLMs)}},
		{Name: "cell-watch", Runner: &converger.CellWatch{Logger: logger, Clock: clock.NewClock(), Client: etcd,
			Prefix: cfg.CellsPrefix, OnGone: func(string) { conv.Trigger() }}},
		{Name: "desired-watch", Runner: converger.NewDesiredWatch(logger, clock.NewClock(), etcd, conv.Trigger)},
		{Name: "converger", Runner: conv},
	})
	process := ifrit.Invoke(sigmon.New(group))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}
