package converger

import (
	"context"
	"errors"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// Action names, as they appear in the pass log line and the metrics' labels.
const (
	ActionMissing           = "missing"
	ActionStaleUnclaimed    = "stale_unclaimed"
	ActionCrashedRestarted  = "crashed_restarted"
	ActionSuspectMarked     = "suspect_marked"
	ActionSuspectRemoved    = "suspect_removed"
	ActionSuspectReverted   = "suspect_reverted"
	ActionEvacuatingRemoved = "evacuating_removed"
	ActionExtra             = "extra"
	ActionTasksKicked       = "tasks_kicked"
	ActionTasksFailed       = "tasks_failed"
	ActionTasksReverted     = "tasks_reverted"
	ActionTasksDeleted      = "tasks_deleted"
	ActionRollStarted       = "roll_started"
	ActionRollRetired       = "roll_retired"
	ActionRollKilled        = "roll_killed"
)

// Actions lists every action name in log order (a fresh slice each call).
func Actions() []string {
	return []string{
		ActionMissing, ActionStaleUnclaimed, ActionExtra, ActionCrashedRestarted,
		ActionSuspectMarked, ActionSuspectRemoved, ActionSuspectReverted, ActionEvacuatingRemoved,
		ActionTasksKicked, ActionTasksFailed, ActionTasksReverted, ActionTasksDeleted,
		ActionRollStarted, ActionRollRetired, ActionRollKilled,
	}
}

// Report is what one pass did. Done counts records the BBS accepted, per
// action; Conflicts counts records that had moved on (harmless); Errors counts
// calls that failed otherwise.
type Report struct {
	Result    Result
	Done      map[string]int
	Conflicts map[string]int
	Errors    map[string]int
	Duration  time.Duration // the whole pass

	SnapshotDuration time.Duration // of which listing through the BBS
	ComputeDuration  time.Duration // of which deciding
}

func (r Report) logData() lager.Data {
	data := lager.Data{"duration": r.Duration.String(), "snapshot_duration": r.SnapshotDuration.String(),
		"compute_duration": r.ComputeDuration.String()}
	conflicts, errs := 0, 0
	for _, a := range Actions() {
		data[a] = r.Done[a]
		conflicts += r.Conflicts[a]
		errs += r.Errors[a]
	}
	data["conflicts"] = conflicts
	data["errors"] = errs
	return data
}

// job is one BBS call covering n records of one action (and, when then is
// set, a second call for the same records, counted under then).
type job struct {
	action string
	then   string
	n      int
	data   lager.Data
	call   func(ctx context.Context, logger lager.Logger) error
}

// movedOn reports whether err means the record is no longer what the snapshot
// showed: the BBS refused the stale proposal, which is the expected outcome of a
// race and needs no attention.
func movedOn(err error) bool {
	return errors.Is(err, models.ErrResourceConflict) || errors.Is(err, models.ErrInvalidStateTransition) ||
		errors.Is(err, models.ErrActualLRPIndexNotFound) || errors.Is(err, models.ErrTaskNotFound) ||
		errors.Is(err, models.ErrTaskNotDeletable) || errors.Is(err, models.ErrDesiredLRPNotFound) ||
		errors.Is(err, models.ErrActualLRPCannotBeClaimed)
}

// apply runs the Result through the BBS with at most Config.Workers calls at once.
func (c *Converger) apply(ctx context.Context, logger lager.Logger, res Result) Report {
	jobs := c.jobs(res)
	report := Report{Result: res, Done: map[string]int{}, Conflicts: map[string]int{}, Errors: map[string]int{}}
	if len(jobs) == 0 {
		return report
	}
	var mu sync.Mutex
	queue := make(chan job)
	var wg sync.WaitGroup
	workers := min(c.cfg.Workers, len(jobs))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
				err := j.call(rctx, logger)
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					report.Done[j.action] += j.n
					if j.then != "" {
						report.Done[j.then] += j.n
					}
				case movedOn(err):
					report.Conflicts[j.action] += j.n
				default:
					report.Errors[j.action] += j.n
				}
				mu.Unlock()
				switch {
				case err == nil:
				case movedOn(err):
					logger.Debug("moved-on", merge(j.data, lager.Data{"action": j.action, "reason": err.Error()}))
				default:
					logger.Error("action-failed", err, merge(j.data, lager.Data{"action": j.action}))
				}
			}
		}()
	}
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(queue)
	wg.Wait()
	return report
}

func merge(a, b lager.Data) lager.Data {
	out := lager.Data{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// jobs turns a Result into BBS calls. Re-auctions are batched; everything else
// is one call per record, because each is its own compare-and-swap.
func (c *Converger) jobs(res Result) []job {
	bbs := c.bbs
	var jobs []job
	keyJob := func(action string, key models.ActualLRPKey, f func(context.Context, lager.Logger, models.ActualLRPKey) error) {
		jobs = append(jobs, job{action: action, n: 1,
			data: lager.Data{"process_guid": key.ProcessGuid, "index": key.Index},
			call: func(ctx context.Context, l lager.Logger) error { return f(ctx, l, key) }})
	}
	taskJob := func(action, guid string, f func(context.Context, lager.Logger, string) error) {
		jobs = append(jobs, job{action: action, n: 1, data: lager.Data{"task_guid": guid},
			call: func(ctx context.Context, l lager.Logger) error { return f(ctx, l, guid) }})
	}

	for _, m := range res.Missing {
		jobs = append(jobs, job{action: ActionMissing, n: len(m.Indices),
			data: lager.Data{"process_guid": m.ProcessGuid, "indices": m.Indices},
			call: func(ctx context.Context, l lager.Logger) error {
				return bbs.CreateUnclaimedActualLRPs(ctx, l, m.ProcessGuid, m.Indices)
			}})
	}
	for _, batch := range chunks(res.StaleUnclaimed, c.cfg.BatchSize) {
		jobs = append(jobs, job{action: ActionStaleUnclaimed, n: len(batch), data: lager.Data{"count": len(batch)},
			call: func(ctx context.Context, l lager.Logger) error { return bbs.AuctionActualLRPs(ctx, l, batch) }})
	}
	for _, k := range res.CrashedToRestart {
		keyJob(ActionCrashedRestarted, k, bbs.RestartCrashedActualLRP)
	}
	// An index whose suspect goes and whose replacement is marked in the same
	// pass needs the two calls in that order: the BBS holds one suspect per index.
	marking := map[models.ActualLRPKey]bool{}
	for _, k := range res.SuspectsToMark {
		marking[k] = true
	}
	for _, k := range res.SuspectsToRemove {
		if !marking[k] {
			keyJob(ActionSuspectRemoved, k, bbs.RemoveSuspectActualLRP)
			continue
		}
		delete(marking, k)
		jobs = append(jobs, job{action: ActionSuspectRemoved, n: 1, then: ActionSuspectMarked,
			data: lager.Data{"process_guid": k.ProcessGuid, "index": k.Index},
			call: func(ctx context.Context, l lager.Logger) error {
				if err := bbs.RemoveSuspectActualLRP(ctx, l, k); err != nil {
					return err
				}
				return bbs.MarkActualLRPSuspect(ctx, l, k)
			}})
	}
	for _, k := range res.SuspectsToMark {
		if marking[k] {
			keyJob(ActionSuspectMarked, k, bbs.MarkActualLRPSuspect)
		}
	}
	for _, k := range res.SuspectsToRevert {
		keyJob(ActionSuspectReverted, k, bbs.RevertSuspectActualLRP)
	}
	for _, e := range res.EvacuatingToDrop {
		jobs = append(jobs, job{action: ActionEvacuatingRemoved, n: 1,
			data: lager.Data{"process_guid": e.Key.ProcessGuid, "index": e.Key.Index, "cell_id": e.Instance.CellID},
			call: func(ctx context.Context, l lager.Logger) error {
				return bbs.RemoveEvacuatingActualLRP(ctx, l, e.Key, e.Instance)
			}})
	}
	for _, k := range res.Extras {
		keyJob(ActionExtra, k, bbs.RetireActualLRP)
	}
	instanceJob := func(action string, e Instance, f func(context.Context, lager.Logger, models.ActualLRPKey, models.ActualLRPInstanceKey) error) {
		jobs = append(jobs, job{action: action, n: 1,
			data: lager.Data{"process_guid": e.Key.ProcessGuid, "index": e.Key.Index, "instance_guid": e.Instance.InstanceGuid},
			call: func(ctx context.Context, l lager.Logger) error { return f(ctx, l, e.Key, e.Instance) }})
	}
	for _, e := range res.RollRetires {
		instanceJob(ActionRollRetired, e, bbs.RetireEvacuatingActualLRP)
	}
	for _, e := range res.RollStarts {
		instanceJob(ActionRollStarted, e, bbs.RollActualLRP)
	}
	for _, k := range res.RollKills {
		keyJob(ActionRollKilled, k, bbs.KillActualLRP)
	}
	for _, f := range res.TasksToFail {
		jobs = append(jobs, job{action: ActionTasksFailed, n: 1, data: lager.Data{"task_guid": f.TaskGuid, "reason": f.Reason},
			call: func(ctx context.Context, l lager.Logger) error { return bbs.FailTask(ctx, l, f.TaskGuid, f.Reason) }})
	}
	for _, batch := range chunks(res.TasksToKick, c.cfg.BatchSize) {
		jobs = append(jobs, job{action: ActionTasksKicked, n: len(batch), data: lager.Data{"count": len(batch)},
			call: func(ctx context.Context, l lager.Logger) error { return bbs.AuctionTasks(ctx, l, batch) }})
	}
	for _, g := range res.TasksToRevert {
		taskJob(ActionTasksReverted, g, bbs.RevertResolvingTask)
	}
	for _, g := range res.TasksToDelete {
		taskJob(ActionTasksDeleted, g, bbs.DeleteTask)
	}
	return jobs
}

func chunks[T any](items []T, size int) [][]T {
	var out [][]T
	for len(items) > 0 {
		n := min(size, len(items))
		out = append(out, items[:n:n])
		items = items[n:]
	}
	return out
}
