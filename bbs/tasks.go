package bbs

import (
	"context"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

func taskNotFound(guid string) error {
	return models.ErrTaskNotFound.WithMessage("no task %s", guid)
}

func taskTransitionErr(t *models.Task, to string) error {
	return models.ErrInvalidStateTransition.WithMessage("task %s cannot go from %s to %s", t.TaskGuid, t.State, to)
}

func taskStartRequest(t *models.Task) *models.TaskStartRequest {
	return &models.TaskStartRequest{
		TaskGuid: t.TaskGuid, Domain: t.Domain,
		Resource:            models.Resource{MemoryMB: t.MemoryMB, DiskMB: t.DiskMB, MaxPids: t.MaxPids},
		PlacementConstraint: models.PlacementConstraint{RootFS: t.RootFS, PlacementTags: t.PlacementTags},
	}
}

// modifyTask is the guarded read-modify-write of one task. change returns the
// next version (nil with a nil error: nothing to write); remove deletes it.
func (db *DB) modifyTask(ctx context.Context, guid string, change func(t *models.Task) (next *models.Task, remove bool, err error)) (*models.Task, error) {
	k := taskKey(guid)
	var before *models.Task
	err := db.casLoop(ctx, "updating task "+guid, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.Task](ctx, db, k)
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, taskNotFound(guid)
		}
		before = cur.value
		copied := *cur.value
		next, remove, err := change(&copied)
		if err != nil {
			return nil, nil, err
		}
		cmps := []clientv3.Cmp{cur.cmp(k)}
		if remove {
			return cmps, []clientv3.Op{clientv3.OpDelete(k)}, nil
		}
		if next == nil {
			return nil, nil, nil
		}
		next.UpdatedAt = db.now()
		return cmps, []clientv3.Op{db.put(k, next)}, nil
	})
	return before, err
}

// complete marks t COMPLETED with the outcome.
func (db *DB) complete(t *models.Task, failed bool, reason, result string) *models.Task {
	t.State = models.TaskStateCompleted
	t.Failed = failed
	t.FailureReason = ""
	if failed {
		t.FailureReason = reason
	}
	t.Result = models.TruncateResult(result)
	if t.FirstCompletedAt == 0 {
		t.FirstCompletedAt = db.now()
	}
	return t
}

// DesireTask stores a new PENDING task and asks the auctioneer to place it.
func (db *DB) DesireTask(ctx context.Context, logger lager.Logger, taskGuid, domain string, def *models.TaskDefinition) error {
	logger = logger.Session("desire-task", lager.Data{"task-guid": taskGuid})
	if def == nil {
		return models.ErrInvalidTask.WithMessage("no task definition given")
	}
	if err := models.ValidateTask(taskGuid, domain, def); err != nil {
		return asWireError(err, models.ErrInvalidTask)
	}
	if err := db.policy.checkPrivileged(def.Privileged, models.ErrInvalidTask); err != nil {
		return err
	}
	now := db.now()
	t := &models.Task{TaskGuid: taskGuid, Domain: domain, TaskDefinition: *def, State: models.TaskStatePending, CreatedAt: now, UpdatedAt: now}
	ok, err := db.commit(ctx, "desiring task "+taskGuid,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(taskKey(taskGuid)), "=", 0)},
		[]clientv3.Op{db.put(taskKey(taskGuid), t)})
	if err != nil {
		return err
	}
	if !ok {
		return models.ErrTaskGuidAlreadyExists.WithMessage("task %s already exists", taskGuid)
	}
	db.requestTaskAuctions(ctx, logger, []*models.TaskStartRequest{taskStartRequest(t)})
	return nil
}

// Tasks lists tasks matching filter.
func (db *DB) Tasks(ctx context.Context, logger lager.Logger, filter models.TaskFilter) ([]*models.Task, error) {
	return listPrefix(ctx, db, taskPrefix, func(t *models.Task) bool {
		return (filter.Domain == "" || t.Domain == filter.Domain) && (filter.CellID == "" || t.CellID == filter.CellID)
	})
}

// TaskByGuid returns one task.
func (db *DB) TaskByGuid(ctx context.Context, logger lager.Logger, taskGuid string) (*models.Task, error) {
	cur, err := get[models.Task](ctx, db, taskKey(taskGuid))
	if err != nil {
		return nil, err
	}
	if !cur.exists() {
		return nil, taskNotFound(taskGuid)
	}
	return cur.value, nil
}

// StartTask moves a PENDING task to RUNNING on cellID. shouldStart is false when
// the task already runs on that cell (a repeated call); a task that runs on
// another cell answers models.ErrTaskCellMismatch (a cell that answered the
// auction late must not run it a second time).
func (db *DB) StartTask(ctx context.Context, logger lager.Logger, taskGuid, cellID string) (bool, error) {
	shouldStart := false
	_, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		shouldStart = false
		if err := t.CheckCell(cellID); err != nil {
			return nil, false, err
		}
		switch t.State {
		case models.TaskStatePending:
			t.State = models.TaskStateRunning
			t.CellID = cellID
			shouldStart = true
			return t, false, nil
		case models.TaskStateRunning:
			return nil, false, nil
		}
		return nil, false, taskTransitionErr(t, models.TaskStateRunning)
	})
	return shouldStart, err
}

// CompleteTask records the outcome reported by the cell running the task;
// another cell answers models.ErrTaskCellMismatch.
func (db *DB) CompleteTask(ctx context.Context, logger lager.Logger, taskGuid, cellID string, failed bool, failureReason, result string) error {
	_, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		if t.State != models.TaskStateRunning {
			return nil, false, taskTransitionErr(t, models.TaskStateCompleted)
		}
		if err := t.CheckCell(cellID); err != nil {
			return nil, false, err
		}
		return db.complete(t, failed, failureReason, result), false, nil
	})
	return err
}

// CancelTask completes a PENDING or RUNNING task as failed ("task was
// cancelled") and, when it was running, stops its container through the rep.
func (db *DB) CancelTask(ctx context.Context, logger lager.Logger, taskGuid string) error {
	logger = logger.Session("cancel-task", lager.Data{"task-guid": taskGuid})
	before, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		if err := t.CheckCancel(); err != nil {
			return nil, false, err
		}
		return db.complete(t, true, models.TaskFailureCancelled, ""), false, nil
	})
	if err != nil || before.State != models.TaskStateRunning || before.CellID == "" {
		return err
	}
	rep, err := db.repFor(ctx, before.CellID)
	if err != nil || rep == nil {
		logger.Info("no-rep-to-cancel", lager.Data{"cell-id": before.CellID})
		return nil
	}
	cctx, cancel := db.callCtx(ctx)
	defer cancel()
	if err := rep.CancelTask(cctx, taskGuid); err != nil {
		// The task is already completed; the rep drops the container when it
		// harmonises against a completed task.
		logger.Error("rep-cancel-failed", err, lager.Data{"cell-id": before.CellID})
	}
	return nil
}

// FailTask completes a PENDING or RUNNING task as failed with reason. Failing a
// RUNNING task because its cell disappeared (models.TaskFailureCellDisappeared)
// re-checks at write time that the cell is still absent, as MarkActualLRPSuspect
// does: a cell whose presence lapsed and came back keeps its task, and the call
// answers models.ErrResourceConflict.
func (db *DB) FailTask(ctx context.Context, logger lager.Logger, taskGuid, failureReason string) error {
	k := taskKey(taskGuid)
	return db.casLoop(ctx, "failing task "+taskGuid, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.Task](ctx, db, k)
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, taskNotFound(taskGuid)
		}
		t := *cur.value
		if err := t.CheckTransition(models.TaskStateCompleted); err != nil {
			return nil, nil, err
		}
		cmps := []clientv3.Cmp{cur.cmp(k)}
		if failureReason == models.TaskFailureCellDisappeared && t.State == models.TaskStateRunning && t.CellID != "" {
			cell, err := get[models.CellPresence](ctx, db, cellKey(t.CellID))
			if err != nil {
				return nil, nil, err
			}
			if cell.exists() {
				return nil, nil, conflict("cell %s of task %s is present", t.CellID, taskGuid)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(cellKey(t.CellID)), "=", 0))
		}
		next := db.complete(&t, true, failureReason, "")
		next.UpdatedAt = db.now()
		return cmps, []clientv3.Op{db.put(k, next)}, nil
	})
}

// RejectTask records that a placement failed. The task goes back to PENDING
// and is auctioned again; the 3rd rejection fails it with reason. cellID is
// the cell giving the task back, "" for the auctioneer (no cell took it): a
// RUNNING task is given back only by its own cell, and anything else answers
// models.ErrTaskCellMismatch (see models.Task.CheckCell). So a rejection sent
// because a cell's POST /work timed out cannot undo the start that cell made
// meanwhile, and the task runs once.
func (db *DB) RejectTask(ctx context.Context, logger lager.Logger, taskGuid, cellID, reason string) error {
	logger = logger.Session("reject-task", lager.Data{"task-guid": taskGuid, "cell-id": cellID})
	var retry *models.TaskStartRequest
	_, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		retry = nil
		if t.State != models.TaskStatePending && t.State != models.TaskStateRunning {
			return nil, false, taskTransitionErr(t, models.TaskStatePending)
		}
		if err := t.CheckCell(cellID); err != nil {
			return nil, false, err
		}
		t.RejectionCount++
		t.CellID = ""
		if t.RejectionCount >= models.MaxTaskRejections {
			return db.complete(t, true, reason, ""), false, nil
		}
		t.State = models.TaskStatePending
		retry = taskStartRequest(t)
		return t, false, nil
	})
	if err == nil && retry != nil {
		db.requestTaskAuctions(ctx, logger, []*models.TaskStartRequest{retry})
	}
	return err
}

// ResolvingTask marks a COMPLETED task as being resolved (its callback runs).
func (db *DB) ResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error {
	_, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		if err := t.CheckTransition(models.TaskStateResolving); err != nil {
			return nil, false, err
		}
		t.State = models.TaskStateResolving
		return t, false, nil
	})
	return err
}

// RevertResolvingTask puts a task stuck in RESOLVING back to COMPLETED.
func (db *DB) RevertResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error {
	_, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		if t.State != models.TaskStateResolving {
			return nil, false, taskTransitionErr(t, models.TaskStateCompleted)
		}
		t.State = models.TaskStateCompleted
		return t, false, nil
	})
	return err
}

// RenewResolvingTask renews the delivery lease of a RESOLVING task: it bumps
// updated_at, which the converger's resolving timeout counts from, so a
// callback that takes longer than that timeout is not handed to a second
// deliverer while the first is still waiting for its answer. Any other state
// answers models.ErrInvalidStateTransition: the lease was lost (the task was
// reverted, and another delivery may start) or the task moved on.
func (db *DB) RenewResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error {
	_, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		if t.State != models.TaskStateResolving {
			return nil, false, models.ErrInvalidStateTransition.WithMessage("task %s is %s, not RESOLVING: its delivery lease is lost", taskGuid, t.State)
		}
		return t, false, nil
	})
	return err
}

// DeleteTask deletes a COMPLETED (or RESOLVING) task; any other state answers
// models.ErrTaskNotDeletable.
func (db *DB) DeleteTask(ctx context.Context, logger lager.Logger, taskGuid string) error {
	_, err := db.modifyTask(ctx, taskGuid, func(t *models.Task) (*models.Task, bool, error) {
		if t.State == models.TaskStateResolving {
			return nil, true, t.CheckResolve()
		}
		if err := t.CheckDelete(); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	})
	return err
}

// AuctionTasks asks the auctioneer again for the tasks that are still PENDING.
func (db *DB) AuctionTasks(ctx context.Context, logger lager.Logger, taskGuids []string) error {
	logger = logger.Session("auction-tasks")
	var reqs []*models.TaskStartRequest
	for _, guid := range taskGuids {
		cur, err := get[models.Task](ctx, db, taskKey(guid))
		if err != nil {
			return err
		}
		if cur.exists() && cur.value.State == models.TaskStatePending {
			reqs = append(reqs, taskStartRequest(cur.value))
		}
	}
	db.requestTaskAuctions(ctx, logger, reqs)
	return nil
}
