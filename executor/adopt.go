package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor/health"
	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/models"
)

// Properties that let adoption rebuild a container's entry.
const (
	PropertyResource = "executor:resource"
	PropertyTags     = "executor:tags"
)

// ErrAdoptionIncomplete says garden could not describe some of the cell's
// containers; they were not adopted, and Adopt should be called again.
var ErrAdoptionIncomplete = errors.New("executor: some containers could not be adopted")

// Adopt takes over the containers garden still holds for this cell, for example
// after a rep restart, instead of killing them. An adopted LRP is watched
// through its processes, its liveness checks and its readiness checks; a task
// that was running is completed as failed, since its action tree cannot be
// resumed. It may be called again: containers already known are skipped. A
// garden List error, or an Info error for some container (ErrAdoptionIncomplete,
// the others being adopted), means the caller should try again.
func (e *Executor) Adopt(ctx context.Context) (int, error) {
	logger := e.logger.Session("adopt")
	handles, err := e.garden.List(ctx, map[string]string{PropertyOwner: e.cfg.CellID})
	if err != nil {
		return 0, fmt.Errorf("listing garden containers: %w", err)
	}
	adopted, unread := 0, 0
	var lastErr error
	for _, handle := range handles {
		info, err := e.garden.Info(ctx, handle)
		if err != nil {
			logger.Error("info-failed", err, lager.Data{"handle": handle})
			unread++
			lastErr = err
			continue
		}
		var req RunRequest
		var res models.Resource
		var tags map[string]string
		if json.Unmarshal([]byte(info.Properties[PropertyState]), &req) != nil ||
			json.Unmarshal([]byte(info.Properties[PropertyResource]), &res) != nil ||
			json.Unmarshal([]byte(info.Properties[PropertyTags]), &tags) != nil {
			logger.Info("destroying-unreadable", lager.Data{"handle": handle})
			_ = e.garden.Destroy(ctx, handle)
			continue
		}
		logger.Info("adopting", lager.Data{"handle": handle, "processes": info.ProcessIDs, "kind": req.Kind})
		if e.adopt(req, res, tags, info) {
			adopted++
		}
	}
	logger.Info("adopted", lager.Data{"count": adopted, "found": len(handles), "unread": unread})
	if unread > 0 {
		return adopted, fmt.Errorf("%w: %d of %d unread, last: %w", ErrAdoptionIncomplete, unread, len(handles), lastErr)
	}
	return adopted, nil
}

func (e *Executor) adopt(req RunRequest, res models.Resource, tags map[string]string, info garden.ContainerInfo) bool {
	e.mu.Lock()
	if _, exists := e.containers[req.Guid]; exists {
		e.mu.Unlock()
		return false
	}
	e.remaining.add(res, -1)
	runCtx, cancel := context.WithCancel(context.Background())
	ent := &entry{
		Container: Container{
			Guid: req.Guid, Kind: req.Kind, State: StateCreated, Resource: res, Run: &req,
			Tags: tags, NetInfo: e.netInfo(info, req), ReservedAt: e.clock.Now(),
		},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	e.containers[req.Guid] = ent
	e.mu.Unlock()

	if req.Kind == KindTask {
		close(ent.done)
		e.complete(req.Guid, RunResult{Failed: true, FailureReason: "the cell restarted while the task was running"})
		return true
	}
	go e.watchAdopted(runCtx, req, ent.NetInfo, info.ProcessIDs, ent.done)
	return true
}

// watchAdopted follows an adopted LRP until one of its processes exits or a
// liveness check fails.
func (e *Executor) watchAdopted(ctx context.Context, req RunRequest, ni models.ActualLRPNetInfo, processIDs []string, done chan struct{}) {
	defer close(done)
	streamer := e.streamer(req)
	var watchers steps.Codependent
	for _, id := range processIDs {
		watchers = append(watchers, steps.StepFunc(func(ctx context.Context) error {
			proc, err := e.garden.Attach(ctx, req.Guid, id, garden.ProcessIO{Stdout: streamer.Stdout(), Stderr: streamer.Stderr()})
			if err != nil {
				return err
			}
			exited := make(chan error, 1)
			go func() {
				status, err := proc.Wait()
				if err == nil {
					err = &steps.ExitError{Status: status}
				}
				exited <- err
			}()
			select {
			case err := <-exited:
				return err
			case <-ctx.Done():
				return steps.ErrCancelled
			}
		}))
	}
	liveness := e.checks(req.Checks, ni, false)
	readinessChecks := e.checks(req.Checks, ni, true)
	gate := &readinessGate{e: e, guid: req.Guid, readiness: len(readinessChecks) > 0, holdForReadiness: true}
	if len(liveness) > 0 {
		watchers = append(watchers, health.Monitor{
			Checks: liveness, StartupInterval: e.cfg.HealthStartupInterval, LivenessInterval: e.cfg.HealthLivenessInterval,
			StartTimeout: e.cfg.DefaultStartTimeout, Clock: e.clock, OnHealthy: gate.running,
		})
	} else {
		gate.running()
	}
	if len(watchers) == 0 {
		e.complete(req.Guid, RunResult{Failed: true, FailureReason: "no process was running in the adopted container"})
		return
	}
	if len(readinessChecks) > 0 {
		// An adopted instance proves its readiness again: its routable flag
		// follows these checks as for an instance started here.
		watchers = append(watchers, health.Readiness{
			Checks: readinessChecks, Interval: e.cfg.HealthStartupInterval, Clock: e.clock, OnChange: gate.changed,
		})
	}
	err := watchers.Perform(ctx)
	switch {
	case ctx.Err() != nil:
		e.complete(req.Guid, RunResult{Stopped: true})
	case err == nil:
		e.complete(req.Guid, RunResult{Failed: true, FailureReason: (&steps.ExitError{Status: 0}).Error()})
	default:
		e.complete(req.Guid, RunResult{Failed: true, FailureReason: err.Error()})
	}
}
