package converger

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// BBS is the part of the BBS API (bbs/client.API) the converger uses: the
// listings of a snapshot and the converger-side transitions of DESIGN 7.2. Each
// transition re-checks its precondition under compare-and-swap, so acting on a
// snapshot that has moved on costs a conflict, never a wrong write.
type BBS interface {
	Domains(ctx context.Context, logger lager.Logger) ([]string, error)
	Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error)
	DesiredLRPSchedulingInfos(ctx context.Context, logger lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error)
	ActualLRPs(ctx context.Context, logger lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error)
	Tasks(ctx context.Context, logger lager.Logger, filter models.TaskFilter) ([]*models.Task, error)

	CreateUnclaimedActualLRPs(ctx context.Context, logger lager.Logger, processGuid string, indices []int) error
	AuctionActualLRPs(ctx context.Context, logger lager.Logger, keys []models.ActualLRPKey) error
	RestartCrashedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error
	MarkActualLRPSuspect(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error
	RemoveSuspectActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error
	RevertSuspectActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error
	RetireActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error
	RemoveEvacuatingActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	RollActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	RetireEvacuatingActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	KillActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error

	FailTask(ctx context.Context, logger lager.Logger, taskGuid, failureReason string) error
	AuctionTasks(ctx context.Context, logger lager.Logger, taskGuids []string) error
	RevertResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	DeleteTask(ctx context.Context, logger lager.Logger, taskGuid string) error
}

// Defaults of the runner.
const (
	DefaultInterval       = 30 * time.Second
	DefaultWorkers        = 16
	DefaultBatchSize      = 100
	DefaultRequestTimeout = 30 * time.Second
	DefaultRollInterval   = time.Second
)

// Config tunes a Converger. A zero field means its default.
type Config struct {
	Interval       time.Duration // time between passes; default 30 s
	Rules          Rules         // the time limits of the rules (see Rules)
	Workers        int           // BBS calls in flight while applying a pass; default 16
	BatchSize      int           // keys per AuctionActualLRPs / AuctionTasks call; default 100
	RequestTimeout time.Duration // bound on each BBS call; default 30 s
	// MassLossHold is how long a mass loss of cells must last before the
	// converger acts on it (see MassLoss); default 1 min.
	MassLossHold time.Duration
	// RollInterval is the time between passes while a roll is under way
	// (a pass found an LRP whose roll is not done, or an old instance to
	// retire), so that each replacement follows the last within about this
	// long; default 1 s.
	RollInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MassLossHold <= 0 {
		c.MassLossHold = DefaultMassLossHold
	}
	if c.RollInterval <= 0 {
		c.RollInterval = DefaultRollInterval
	}
	c.Rules = c.Rules.withDefaults()
	return c
}

// Options builds a Converger. Logger, Clock and BBS are required.
type Options struct {
	Logger  lager.Logger
	Clock   clock.Clock
	BBS     BBS
	Config  Config
	Metrics *Metrics // nil: passes are not exported (NewMetrics(nil) is used)
}

// Converger is the ifrit runner that converges every Config.Interval and at once
// whenever Trigger is called (the cell watch calls it when a cell vanishes).
type Converger struct {
	logger  lager.Logger
	clock   clock.Clock
	bbs     BBS
	cfg     Config
	metrics *Metrics
	trigger chan struct{}
	// massLoss and absentSince are only touched by Pass, which runs one at
	// a time.
	massLoss massLossClock
	// absentSince is when this converger first saw each absent cell that
	// holds a RUNNING task (see Rules.AbsentCellTaskGrace). It starts empty
	// when the converger starts or wins the lock: the grace then runs from
	// its first sight of the absence, later rather than sooner.
	absentSince map[string]time.Time
}

// New builds a Converger.
func New(opts Options) *Converger {
	m := opts.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Converger{
		logger:  opts.Logger.Session("converger"),
		clock:   opts.Clock,
		bbs:     opts.BBS,
		cfg:     opts.Config.withDefaults(),
		metrics: m,
		trigger: make(chan struct{}, 1),
	}
}

// Trigger asks for a pass as soon as possible. Calls that arrive while a pass is
// pending coalesce into one. It never blocks.
func (c *Converger) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run implements ifrit.Runner: one pass at once, then one every interval and one
// per Trigger (and one every RollInterval while a roll is under way), until
// signalled. A failed pass is logged and retried on the next
// tick; it never stops the runner.
func (c *Converger) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-signals:
			cancel()
		case <-done:
		}
	}()

	ticker := c.clock.NewTicker(c.cfg.Interval)
	defer ticker.Stop()
	close(ready)
	c.logger.Info("started", lager.Data{"interval": c.cfg.Interval.String()})
	c.Trigger()
	var soon <-chan time.Time // set while a roll is under way
	for {
		select {
		case <-ctx.Done():
			c.logger.Info("stopped")
			return nil
		case <-ticker.C():
		case <-c.trigger:
		case <-soon:
		}
		soon = nil
		report, err := c.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			c.logger.Error("pass-failed", err)
		}
		if r := report.Result; len(r.Rolls) > 0 || len(r.RollRetires) > 0 {
			soon = c.clock.After(c.cfg.RollInterval)
		}
	}
}

// Pass runs one convergence pass: snapshot, Compute, apply. It returns what was
// done; an error means the snapshot could not be read and nothing was done.
func (c *Converger) Pass(ctx context.Context) (Report, error) {
	logger := c.logger.Session("pass")
	start := c.clock.Now()
	snap, err := c.Snapshot(ctx, logger)
	if err != nil {
		c.metrics.failedPass()
		return Report{}, err
	}
	fetched := c.clock.Now()
	snap.MassLossConfirmed = c.massLoss.confirmed(fetched, c.cfg.MassLossHold)
	snap.CellsAbsentSince = c.timeAbsences(snap, fetched)
	res := Compute(snap, fetched, c.cfg.Rules)
	c.massLoss.observe(res.MassLoss, fetched)
	if l := res.MassLoss; l != nil {
		logger.Error("mass-loss-of-cells", nil, lager.Data{"absent": l.Absent, "known": l.Known, "held": l.Held,
			"hold": c.cfg.MassLossHold.String()})
	}
	computed := c.clock.Now()
	report := c.apply(ctx, logger, res)
	report.Duration = c.clock.Since(start)
	report.SnapshotDuration = fetched.Sub(start)
	report.ComputeDuration = computed.Sub(fetched)
	c.metrics.observe(report)
	logger.Info("converged", report.logData())
	return report, nil
}

// timeAbsences updates when each absent cell holding a RUNNING task was first
// seen absent (a cell present again, or holding no task, is forgotten) and
// returns a copy for the snapshot.
func (c *Converger) timeAbsences(snap Snapshot, now time.Time) map[string]time.Time {
	next := map[string]time.Time{}
	for _, id := range AbsentTaskCells(snap) {
		since, ok := c.absentSince[id]
		if !ok {
			since = now
			c.logger.Info("cell-with-running-tasks-absent", lager.Data{"cell-id": id,
				"grace": c.cfg.Rules.AbsentCellTaskGrace.String()})
		}
		next[id] = since
	}
	c.absentSince = next
	out := make(map[string]time.Time, len(next))
	for id, t := range next {
		out[id] = t
	}
	return out
}

// Snapshot lists what Compute needs. The order matters: actual LRPs and tasks
// are read before desired LRPs and cells, so a record claimed by a cell that
// registered mid-snapshot, or created for an LRP desired mid-snapshot, is seen
// with its cell and its desire (the other order would retire or mark it suspect
// by mistake). What changes after the snapshot costs at most a conflict.
func (c *Converger) Snapshot(ctx context.Context, logger lager.Logger) (Snapshot, error) {
	var snap Snapshot
	var mu sync.Mutex
	var firstErr error
	fetch := func(wg *sync.WaitGroup, what string, f func(ctx context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
			defer cancel()
			if err := f(rctx); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("listing %s: %w", what, err)
				}
				mu.Unlock()
			}
		}()
	}

	var first sync.WaitGroup
	fetch(&first, "actual LRPs", func(ctx context.Context) (err error) {
		snap.Actual, err = c.bbs.ActualLRPs(ctx, logger, models.ActualLRPFilter{})
		return err
	})
	fetch(&first, "tasks", func(ctx context.Context) (err error) {
		snap.Tasks, err = c.bbs.Tasks(ctx, logger, models.TaskFilter{})
		return err
	})
	first.Wait()
	if firstErr != nil {
		return Snapshot{}, firstErr
	}

	var second sync.WaitGroup
	fetch(&second, "desired LRPs", func(ctx context.Context) (err error) {
		snap.Desired, err = c.bbs.DesiredLRPSchedulingInfos(ctx, logger, models.DesiredLRPFilter{})
		return err
	})
	fetch(&second, "domains", func(ctx context.Context) (err error) {
		snap.Domains, err = c.bbs.Domains(ctx, logger)
		return err
	})
	fetch(&second, "cells", func(ctx context.Context) (err error) {
		snap.Cells, err = c.bbs.Cells(ctx, logger)
		return err
	})
	second.Wait()
	if firstErr != nil {
		return Snapshot{}, firstErr
	}
	return snap, nil
}
