package daemonconfig

import (
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
)

// Converger is the converger's JSON config file.
type Converger struct {
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

// DefaultConverger returns the defaults of every field.
func DefaultConverger() Converger {
	return Converger{
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
func (c Converger) Validate() error {
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
