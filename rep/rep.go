package rep

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// Executor is the part of the executor the rep drives.
type Executor interface {
	TotalResources() executor.Resources
	RemainingResources() executor.Resources
	Healthy(ctx context.Context) bool
	Allocate(allocs []executor.Allocation) []executor.Allocation
	Containers() []executor.Container
	Get(guid string) (executor.Container, bool)
	Run(req executor.RunRequest) error
	Stop(guid string) error
	Delete(ctx context.Context, guid string) error
	Subscribe() (<-chan executor.Event, func())
	Adopt(ctx context.Context) (int, error)
}

// Tags the rep puts on executor containers.
const (
	tagProcessGuid = "process_guid"
	tagIndex       = "index"
	tagDomain      = "domain"
	tagTaskGuid    = "task_guid"
)

// Rep holds a cell's representative state.
type Rep struct {
	cfg      Config
	logger   lager.Logger
	bbs      BBS
	executor Executor
	clock    clock.Clock

	evacuating atomic.Bool
	// evacuated is closed once an evacuation has drained the cell.
	evacuated chan struct{}
	evacOnce  sync.Once

	// draining holds the guids of instances withdrawn from routing and
	// on their way out (see retire), until their containers are deleted.
	draining sync.Map

	// adoptionPending is true while an Adopter has not yet read every
	// container garden holds for this cell.
	adoptionPending atomic.Bool
	// resync asks the Harmonizer for a pass now: the processor missed
	// executor events (executor.EventLagged). Buffered 1; requests coalesce.
	resync chan struct{}

	createFailures createFailures
}

// New returns a rep over an executor and a BBS client.
func New(logger lager.Logger, cfg Config, bbs BBS, exec Executor, clk clock.Clock) *Rep {
	return &Rep{cfg: cfg, logger: logger.Session("rep"), bbs: bbs, executor: exec, clock: clk, evacuated: make(chan struct{}),
		resync: make(chan struct{}, 1)}
}

// PresenceRecord is what the rep heartbeats.
func (r *Rep) PresenceRecord() models.CellPresence {
	total := r.executor.TotalResources()
	return models.CellPresence{
		CellID:                r.cfg.CellID,
		RepAddress:            r.cfg.AdvertiseURL,
		RepURL:                r.cfg.AdvertiseURL,
		Zone:                  r.cfg.Zone,
		IsolationSegment:      r.cfg.IsolationSegment,
		Capacity:              models.CellCapacity{MemoryMB: total.MemoryMB, DiskMB: total.DiskMB, Containers: total.Containers},
		RootFSProviders:       r.cfg.RootFSProviders,
		PlacementTags:         nonNil(r.cfg.PlacementTags),
		OptionalPlacementTags: nonNil(r.cfg.OptionalPlacementTags),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// State is what GET /state answers: always the executor's own books.
func (r *Rep) State(ctx context.Context) repapi.CellState {
	total, remaining := r.executor.TotalResources(), r.executor.RemainingResources()
	healthy := r.executor.Healthy(ctx) && !r.createsBroken()
	state := repapi.CellState{
		CellID:                r.cfg.CellID,
		Zone:                  r.cfg.Zone,
		RootFSProviders:       r.cfg.RootFSProviders,
		TotalResources:        repapi.Resources(total),
		AvailableResources:    repapi.Resources(remaining),
		LRPs:                  []repapi.LRP{},
		Tasks:                 []repapi.Task{},
		PlacementTags:         nonNil(r.cfg.PlacementTags),
		OptionalPlacementTags: nonNil(r.cfg.OptionalPlacementTags),
		Evacuating:            r.evacuating.Load(),
		Healthy:               healthy,
	}
	if !healthy {
		// A cell that cannot run work must not be offered any.
		state.AvailableResources = repapi.Resources{}
	}
	for _, c := range r.executor.Containers() {
		switch c.Kind {
		case executor.KindLRP:
			index, err := strconv.Atoi(c.Tags[tagIndex])
			if err != nil {
				// Still reported (as index 0): its resources are in use.
				r.logger.Error("container-index-tag-unreadable", err, lager.Data{"guid": c.Guid, "index": c.Tags[tagIndex]})
			}
			state.LRPs = append(state.LRPs, repapi.LRP{
				ActualLRPKey: models.ActualLRPKey{ProcessGuid: c.Tags[tagProcessGuid], Index: index, Domain: c.Tags[tagDomain]},
				InstanceGuid: c.Guid, Resource: c.Resource,
			})
		case executor.KindTask:
			state.Tasks = append(state.Tasks, repapi.Task{TaskGuid: c.Guid, Domain: c.Tags[tagDomain], Resource: c.Resource})
		}
		if c.State == executor.StateReserved || c.State == executor.StateInitializing || c.State == executor.StateCreated {
			state.StartingContainerCount++
		}
	}
	return state
}

// Perform reserves everything it can first, answers with what it could not
// take, and then claims and starts the rest in the background.
func (r *Rep) Perform(logger lager.Logger, work repapi.Work) repapi.Work {
	failed := repapi.Work{LRPs: []repapi.LRPWork{}, Tasks: []repapi.TaskWork{}}
	// An evacuating cell takes nothing, and neither does one whose garden is
	// not answering: it would only fail the work later.
	if r.evacuating.Load() || r.createsBroken() || !r.executor.Healthy(context.Background()) {
		failed.LRPs = append(failed.LRPs, work.LRPs...)
		failed.Tasks = append(failed.Tasks, work.Tasks...)
		return failed
	}

	var allocs []executor.Allocation
	lrps := map[string]repapi.LRPWork{}
	tasks := map[string]repapi.TaskWork{}
	for _, lrp := range work.LRPs {
		if !r.offers(lrp.RootFS) {
			failed.LRPs = append(failed.LRPs, lrp)
			continue
		}
		if lrp.InstanceGuid == "" {
			lrp.InstanceGuid = newGuid()
		}
		lrps[lrp.InstanceGuid] = lrp
		allocs = append(allocs, executor.Allocation{Guid: lrp.InstanceGuid, Kind: executor.KindLRP, Resource: lrp.Resource, Tags: map[string]string{
			tagProcessGuid: lrp.ProcessGuid, tagIndex: strconv.Itoa(lrp.Index), tagDomain: lrp.Domain,
		}})
	}
	for _, task := range work.Tasks {
		if !r.offers(task.RootFS) {
			failed.Tasks = append(failed.Tasks, task)
			continue
		}
		tasks[task.TaskGuid] = task
		allocs = append(allocs, executor.Allocation{Guid: task.TaskGuid, Kind: executor.KindTask, Resource: task.Resource, Tags: map[string]string{
			tagTaskGuid: task.TaskGuid, tagDomain: task.Domain,
		}})
	}
	for _, a := range r.executor.Allocate(allocs) {
		if lrp, ok := lrps[a.Guid]; ok {
			failed.LRPs = append(failed.LRPs, lrp)
			delete(lrps, a.Guid)
		} else if task, ok := tasks[a.Guid]; ok {
			failed.Tasks = append(failed.Tasks, task)
			delete(tasks, a.Guid)
		}
	}

	for _, lrp := range lrps {
		go r.startLRP(logger, lrp)
	}
	for _, task := range tasks {
		go r.startTask(logger, task)
	}
	return failed
}

func (r *Rep) offers(rootfs string) bool { return r.cfg.RootFSProviders.Supports(rootfs) }

func (r *Rep) startLRP(logger lager.Logger, lrp repapi.LRPWork) {
	logger = logger.Session("start-lrp", lager.Data{"process_guid": lrp.ProcessGuid, "index": lrp.Index, "instance_guid": lrp.InstanceGuid})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := lrp.ActualLRPKey
	instance := models.ActualLRPInstanceKey{InstanceGuid: lrp.InstanceGuid, CellID: r.cfg.CellID}

	desired, err := r.bbs.DesiredLRPByProcessGuid(ctx, logger, lrp.ProcessGuid)
	if err == nil {
		err = r.bbs.ClaimActualLRP(ctx, logger, key, instance)
	}
	if err != nil {
		logger.Info("not-starting", lager.Data{"reason": err.Error()})
		r.deleteContainer(ctx, logger, lrp.InstanceGuid)
		return
	}
	if err := r.executor.Run(lrpRunRequest(desired, lrp)); err != nil {
		logger.Error("run-failed", err)
		if err := r.bbs.CrashActualLRP(ctx, logger, key, instance, "failed to start: "+err.Error()); err != nil {
			logger.Error("reporting-crash-failed", err)
		}
		r.deleteContainer(ctx, logger, lrp.InstanceGuid)
	}
}

func lrpRunRequest(d *models.DesiredLRP, lrp repapi.LRPWork) executor.RunRequest {
	return executor.RunRequest{
		Guid: lrp.InstanceGuid, Kind: executor.KindLRP,
		ProcessGuid: d.ProcessGuid, Index: lrp.Index, Domain: d.Domain,
		RootFS: d.RootFS, ImageUsername: d.ImageUsername, ImagePassword: d.ImagePassword,
		Env: d.Env, Setup: d.Setup, Action: d.Action, Monitor: d.Monitor, Checks: d.CheckDefinition,
		StartTimeout: time.Duration(d.StartTimeout) * time.Second,
		Privileged:   d.Privileged, Ports: d.Ports, MaxPids: d.MaxPids, CPUWeight: d.CPUWeight,
		LogGuid: d.LogGuid, LogSource: d.LogSource, MetricsGuid: d.MetricsGuid, EgressRules: d.EgressRules,
	}
}

func (r *Rep) startTask(logger lager.Logger, work repapi.TaskWork) {
	logger = logger.Session("start-task", lager.Data{"task_guid": work.TaskGuid})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	task, err := r.bbs.TaskByGuid(ctx, logger, work.TaskGuid)
	var start bool
	if err == nil {
		start, err = r.bbs.StartTask(ctx, logger, work.TaskGuid, r.cfg.CellID)
	}
	if err != nil || !start {
		// A refused start (models.ErrTaskCellMismatch: the auction's work
		// reached this cell late and another cell runs the task) leaves the
		// task to that cell: no container here, and no completion reported.
		logger.Info("not-starting", lager.Data{"error": fmt.Sprint(err)})
		if err := r.executor.Delete(ctx, work.TaskGuid); err != nil && !errors.Is(err, executor.ErrNotFound) {
			logger.Error("deleting-reservation-failed", err)
		}
		return
	}
	req := executor.RunRequest{
		Guid: task.TaskGuid, Kind: executor.KindTask, Domain: task.Domain,
		RootFS: task.RootFS, ImageUsername: task.ImageUsername, ImagePassword: task.ImagePassword,
		Env: task.Env, Action: task.Action, Privileged: task.Privileged, MaxPids: task.MaxPids,
		CPUWeight: task.CPUWeight, LogGuid: task.LogGuid, LogSource: task.LogSource,
		MetricsGuid: task.MetricsGuid, ResultFile: task.ResultFile, EgressRules: task.EgressRules,
	}
	if err := r.executor.Run(req); err != nil {
		logger.Error("run-failed", err)
		if err := r.bbs.CompleteTask(ctx, logger, task.TaskGuid, r.cfg.CellID, true, "failed to start: "+err.Error(), ""); err != nil {
			logger.Error("failing-task-failed", err)
		}
		r.deleteContainer(ctx, logger, task.TaskGuid)
	}
}

// CancelTask stops a task's container at once.
func (r *Rep) CancelTask(taskGuid string) error {
	if err := r.executor.Stop(taskGuid); err != nil {
		if errors.Is(err, executor.ErrNotFound) {
			return models.ErrTaskNotFound.WithMessage("no task %s on this cell", taskGuid)
		}
		return err
	}
	return nil
}

// deleteContainer destroys a container the rep gives up on, logging a
// failure (a container already gone is not one).
func (r *Rep) deleteContainer(ctx context.Context, logger lager.Logger, guid string) {
	if err := r.executor.Delete(ctx, guid); err != nil && !errors.Is(err, executor.ErrNotFound) {
		logger.Error("deleting-container-failed", err, lager.Data{"guid": guid})
	}
}
