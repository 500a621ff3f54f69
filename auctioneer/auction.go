package auctioneer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"golang.org/x/sync/errgroup"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// BBS is what the auctioneer needs from the BBS: the present cells, and a place
// to report what could not be placed.
type BBS interface {
	Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error)
	// FailActualLRPs leaves each index UNCLAIMED with its placement error,
	// in one request however many there are.
	FailActualLRPs(ctx context.Context, logger lager.Logger, failures []models.PlacementFailure) error
	// RejectTask counts a rejection; below models.MaxTaskRejections the BBS
	// asks for a new auction of the task, at the last one it fails the task.
	// The auctioneer rejects as no cell (cellID ""), which the BBS applies
	// only to a task still PENDING: a cell that took the work although its
	// POST /work failed keeps the task it started.
	RejectTask(ctx context.Context, logger lager.Logger, taskGuid, cellID, reason string) error
}

// reportConcurrency bounds the parallel calls to the BBS when rejecting tasks.
const reportConcurrency = 16

// Auctioneer runs one auction at a time: fetch cell states, schedule, hand out
// work, report failures. It keeps no state between auctions.
type Auctioneer struct {
	Logger    lager.Logger
	Clock     clock.Clock
	BBS       BBS
	Scheduler Scheduler
	// HTTP talks to the reps; build it with internal/transport.
	HTTP *http.Client
	// RepScheme prefixes a cell's rep_address when its presence has no rep_url.
	RepScheme string
	// CellTimeout bounds each GET /state attempt and each POST /work.
	CellTimeout time.Duration
	// Metrics may be nil.
	Metrics *Metrics
}

// Report says what an auction did.
type Report struct {
	Result
	// CellErrors are the cells left out of this auction, with the cause.
	CellErrors map[string]error
	// Retry holds items for a later batch: deferred ones, and items a cell
	// refused for the first time (with that cell in Avoid). Tasks that found
	// no cell are not kept: the BBS asks for their next auction itself.
	Retry Batch
	// Refused counts items a cell refused or whose POST /work failed.
	Refused  int
	Duration time.Duration
}

// RunAuction places the batch. It never fails as a whole: a cell that cannot
// be reached is left out, an item that cannot be placed is reported, and if
// the BBS itself is unavailable every item comes back in Report.Retry.
func (a *Auctioneer) RunAuction(ctx context.Context, batch Batch) Report {
	start := a.Clock.Now()
	logger := a.Logger.Session("auction", lager.Data{"lrps": len(batch.LRPs), "tasks": len(batch.Tasks)})
	report := Report{CellErrors: map[string]error{}}

	presences, err := a.BBS.Cells(ctx, logger)
	if err != nil {
		logger.Error("fetching-cells-failed", err)
		report.Retry = batch
		report.Duration = a.Clock.Since(start)
		return report
	}
	states, targets := a.fetchStates(ctx, logger, presences, report.CellErrors)
	fetched := a.Clock.Now()
	report.Result = a.Scheduler.Schedule(batch, states)
	report.Retry = report.Deferred
	scheduled := a.Clock.Now()

	// What no cell can take is reported before the cells get their work: once
	// they start it, the machine is busy and the BBS slow to answer, and a
	// client waiting on a scale that cannot fit would hear of it seconds later.
	unplacedLRPs, unplacedTasks := len(report.FailedLRPs), len(report.FailedTasks)
	a.reportFailures(ctx, logger, report.FailedLRPs, report.FailedTasks)
	reported := a.Clock.Now()
	refusals := a.perform(ctx, logger, targets, report.Work)
	performed := a.Clock.Now()
	lrpItems, taskItems := indexBatch(batch)
	refusedLRPs, refusedTasks := 0, 0
	for _, r := range refusals {
		report.Refused++
		if r.task == "" {
			orig, ok := lrpItems[r.lrp]
			if !ok {
				continue // the cell answered with work it was never given
			}
			refusedLRPs++
			item := *orig
			item.Avoid = append(append([]string(nil), item.Avoid...), r.cellID)
			if len(item.Avoid) == 1 {
				// A first refusal gets one more round, on another cell.
				report.Retry.LRPs = append(report.Retry.LRPs, item)
				continue
			}
			report.FailedLRPs = append(report.FailedLRPs, LRPFailure{LRPStart: item, Reason: r.reason})
			continue
		}
		orig, ok := taskItems[r.task]
		if !ok {
			continue
		}
		refusedTasks++
		item := *orig
		item.Avoid = append(append([]string(nil), item.Avoid...), r.cellID)
		if len(item.Avoid) == 1 {
			report.Retry.Tasks = append(report.Retry.Tasks, item)
			continue
		}
		report.FailedTasks = append(report.FailedTasks, TaskFailure{TaskStart: item, Reason: r.reason})
	}
	a.reportFailures(ctx, logger, report.FailedLRPs[unplacedLRPs:], report.FailedTasks[unplacedTasks:])

	report.Duration = a.Clock.Since(start)
	lrps, tasks := report.Placed()
	lrps -= refusedLRPs
	tasks -= refusedTasks
	a.Metrics.observe(report, lrps, tasks)
	logger.Info("done", lager.Data{
		"placed-lrps": lrps, "placed-tasks": tasks, "failed-lrps": len(report.FailedLRPs),
		"failed-tasks": len(report.FailedTasks), "retry": report.Retry.Len(), "cells": len(states),
		"cells-left-out": len(report.CellErrors), "duration": report.Duration.String(),
		// Where the time went, for an operator asking why an auction was slow.
		"fetching-states": fetched.Sub(start).String(), "scheduling": scheduled.Sub(fetched).String(),
		"reporting-unplaced": reported.Sub(scheduled).String(), "performing": performed.Sub(reported).String(),
	})
	return report
}

// fetchStates asks every present cell for its state in parallel. A cell that
// fails twice (timeout, error status, garbage) is left out and its cause noted.
func (a *Auctioneer) fetchStates(ctx context.Context, logger lager.Logger, presences []*models.CellPresence, cellErrors map[string]error) ([]*repapi.CellState, map[string]*repapi.Client) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	states := make([]*repapi.CellState, 0, len(presences))
	targets := make(map[string]*repapi.Client, len(presences))
	for _, p := range presences {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func(p *models.CellPresence) {
			defer wg.Done()
			client := repapi.NewClient(a.HTTP, a.repURL(p))
			state, err := a.fetchState(ctx, client, p)
			if err != nil {
				err = fmt.Errorf("fetching state of cell %s: %w", p.CellID, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				logger.Error("cell-left-out", err, lager.Data{"cell-id": p.CellID})
				cellErrors[p.CellID] = err
				return
			}
			states = append(states, state)
			targets[p.CellID] = client
		}(p)
	}
	wg.Wait()
	return states, targets
}

func (a *Auctioneer) fetchState(ctx context.Context, client *repapi.Client, p *models.CellPresence) (*repapi.CellState, error) {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		attemptCtx, cancel := context.WithTimeout(ctx, a.CellTimeout)
		var state repapi.CellState
		state, err = client.State(attemptCtx)
		cancel()
		if err == nil {
			return normalise(&state, p)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// normalise fills what the state left out from the presence, and refuses a
// state that claims to be another cell.
func normalise(s *repapi.CellState, p *models.CellPresence) (*repapi.CellState, error) {
	if s.CellID == "" {
		s.CellID = p.CellID
	}
	if s.CellID != p.CellID {
		return nil, fmt.Errorf("state names cell %q", s.CellID)
	}
	if s.TotalResources.MemoryMB < 0 || s.AvailableResources.MemoryMB > s.TotalResources.MemoryMB ||
		s.AvailableResources.DiskMB > s.TotalResources.DiskMB || s.AvailableResources.Containers > s.TotalResources.Containers {
		return nil, errors.New("state has available resources beyond its total")
	}
	if s.Zone == "" {
		s.Zone = p.Zone
	}
	if s.RootFSProviders == nil {
		s.RootFSProviders = p.RootFSProviders
	}
	if s.PlacementTags == nil && s.OptionalPlacementTags == nil {
		s.PlacementTags, s.OptionalPlacementTags = p.PlacementTags, p.OptionalPlacementTags
	}
	return s, nil
}

func (a *Auctioneer) repURL(p *models.CellPresence) string { return p.RepEndpoint(a.RepScheme) }

// refusal is one item a cell did not take, and why.
type refusal struct {
	cellID string
	lrp    models.ActualLRPKey
	task   string // task guid; empty for an LRP
	reason string
}

func indexBatch(b Batch) (map[models.ActualLRPKey]*LRPStart, map[string]*TaskStart) {
	lrps := make(map[models.ActualLRPKey]*LRPStart, len(b.LRPs))
	for i := range b.LRPs {
		lrps[b.LRPs[i].ActualLRPKey] = &b.LRPs[i]
	}
	tasks := make(map[string]*TaskStart, len(b.Tasks))
	for i := range b.Tasks {
		tasks[b.Tasks[i].TaskGuid] = &b.Tasks[i]
	}
	return lrps, tasks
}

// perform sends each cell its work in one POST /work, in parallel, and
// collects what came back refused. A failed POST counts as refusing all of it.
func (a *Auctioneer) perform(ctx context.Context, logger lager.Logger, targets map[string]*repapi.Client, work map[string]*repapi.Work) []refusal {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var out []refusal
	for cellID, w := range work {
		wg.Add(1)
		go func(cellID string, w *repapi.Work) {
			defer wg.Done()
			workCtx, cancel := context.WithTimeout(ctx, a.CellTimeout)
			defer cancel()
			refused, err := targets[cellID].Perform(workCtx, *w)
			reason := fmt.Sprintf("cell %s refused the work it had room for", cellID)
			if err != nil {
				logger.Error("work-failed", err, lager.Data{"cell-id": cellID})
				refused = *w
				reason = fmt.Sprintf("cell %s did not take the work: %v", cellID, err)
			} else if n := len(refused.LRPs) + len(refused.Tasks); n > 0 {
				logger.Info("work-refused", lager.Data{"cell-id": cellID, "refused": n})
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range refused.LRPs {
				out = append(out, refusal{cellID: cellID, lrp: l.ActualLRPKey, reason: reason})
			}
			for _, t := range refused.Tasks {
				out = append(out, refusal{cellID: cellID, task: t.TaskGuid, reason: reason})
			}
		}(cellID, w)
	}
	wg.Wait()
	return out
}

// reportFailures tells the BBS about every failure: the LRPs' in one request,
// the tasks' in parallel. A failing report is logged and does not hold up the
// others.
func (a *Auctioneer) reportFailures(ctx context.Context, logger lager.Logger, lrps []LRPFailure, tasks []TaskFailure) {
	var g errgroup.Group
	g.SetLimit(reportConcurrency)
	if len(lrps) > 0 {
		failures := make([]models.PlacementFailure, len(lrps))
		for i, f := range lrps {
			failures[i] = models.PlacementFailure{Key: f.ActualLRPKey, PlacementError: f.Reason}
		}
		g.Go(func() error {
			if err := a.BBS.FailActualLRPs(ctx, logger, failures); err != nil {
				logger.Error("fail-actual-lrps-failed", err, lager.Data{"count": len(failures), "first-reason": lrps[0].Reason})
			}
			return nil
		})
	}
	for _, f := range tasks {
		g.Go(func() error {
			if err := a.BBS.RejectTask(ctx, logger, f.TaskGuid, "", f.Reason); err != nil {
				if errors.Is(err, models.ErrTaskCellMismatch) {
					logger.Info("task-started-meanwhile", lager.Data{"task-guid": f.TaskGuid, "reason": f.Reason, "detail": err.Error()})
					return nil
				}
				logger.Error("reject-task-failed", err, lager.Data{"task-guid": f.TaskGuid, "reason": f.Reason})
			}
			return nil
		})
	}
	_ = g.Wait()
}
