package models

import "unicode/utf8"

// Failure reasons the system writes on tasks (DESIGN 6.2, 7.2).
const (
	TaskFailureCancelled       = "task was cancelled"
	TaskFailureNotStarted      = "not started within time limit"
	TaskFailureCellDisappeared = "cell disappeared before completion"
)

// MaxResultBytes is how much of a task's result file its result keeps.
const MaxResultBytes = 10240

// MaxTaskRejections is how many times cells may refuse a task before it fails.
const MaxTaskRejections = 3

// CheckTransition says whether the task may move to state to (DESIGN 6.2):
//
//	PENDING   -> RUNNING    a cell started it
//	PENDING   -> COMPLETED  cancelled, expired or unplaceable (failed)
//	RUNNING   -> COMPLETED  it finished, was cancelled, or its cell vanished
//	COMPLETED -> RESOLVING  its completion callback is being delivered
//	RESOLVING -> COMPLETED  the callback stalled; deliver it again
//
// Anything else is ErrInvalidStateTransition. Deleting is CheckDelete (a
// COMPLETED task) or CheckResolve (a RESOLVING one, after its callback).
func (t *Task) CheckTransition(to string) error {
	ok := false
	switch t.State {
	case TaskStatePending:
		ok = to == TaskStateRunning || to == TaskStateCompleted
	case TaskStateRunning:
		ok = to == TaskStateCompleted
	case TaskStateCompleted:
		ok = to == TaskStateResolving
	case TaskStateResolving:
		ok = to == TaskStateCompleted
	}
	if !ok {
		return ErrInvalidStateTransition.WithMessage("task %s cannot go from %s to %s", t.TaskGuid, t.State, to)
	}
	return nil
}

// CheckCell says whether cellID may act on the task as its cell (DESIGN 6.2,
// issue 19 item 5). A task belongs to a cell from its start: once RUNNING only
// that cell may start it again (a no-op), complete it or give it back. The
// rows, for an action by cellID ("" means no cell: the auctioneer reporting
// that a placement failed):
//
//	PENDING                        any cellID (start, reject) is allowed
//	RUNNING on cellID              allowed (cellID non-empty)
//	RUNNING on another cell, or ""  ErrTaskCellMismatch
//
// Other states have no cell to match; CheckTransition decides them. So a cell
// that answered the auction late and starts a task another cell already runs
// is refused, and a placement rejection that arrives after a cell started
// the task cannot send it back to PENDING to run a second time.
func (t *Task) CheckCell(cellID string) error {
	if t.State != TaskStateRunning {
		return nil
	}
	if cellID == "" {
		return ErrTaskCellMismatch.WithMessage("task %s runs on cell %s; a placement rejection applies only to a PENDING task", t.TaskGuid, t.CellID)
	}
	if t.CellID != cellID {
		return ErrTaskCellMismatch.WithMessage("task %s runs on cell %s, not %s", t.TaskGuid, t.CellID, cellID)
	}
	return nil
}

// CheckCancel allows cancelling only a PENDING or RUNNING task.
func (t *Task) CheckCancel() error {
	if t.State == TaskStatePending || t.State == TaskStateRunning {
		return nil
	}
	return ErrTaskNotCancelable.WithMessage("task %s is %s", t.TaskGuid, t.State)
}

// CheckDelete allows deleting (by a client or by expiry) only a COMPLETED task.
func (t *Task) CheckDelete() error {
	if t.State == TaskStateCompleted {
		return nil
	}
	return ErrTaskNotDeletable.WithMessage("task %s is %s", t.TaskGuid, t.State)
}

// CheckResolve allows removing a RESOLVING task once its callback was answered.
func (t *Task) CheckResolve() error {
	if t.State == TaskStateResolving {
		return nil
	}
	return ErrInvalidStateTransition.WithMessage("task %s is %s, not RESOLVING", t.TaskGuid, t.State)
}

// TruncateResult keeps at most MaxResultBytes of a result, never cutting a
// UTF-8 character in two (so the JSON encoding of the result is unchanged).
func TruncateResult(result string) string {
	if len(result) <= MaxResultBytes {
		return result
	}
	cut := MaxResultBytes
	for cut > 0 && cut > MaxResultBytes-utf8.UTFMax && !utf8.RuneStart(result[cut]) {
		cut--
	}
	return result[:cut]
}
