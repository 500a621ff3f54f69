package simulation

import (
	"context"
	"sync"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// BBS stands in for the BBS, the auctioneer's neighbour: it lists the
// cluster's cells and records what the auctioneer reports. Like the real BBS
// it fails a task at its third rejection (and asks for a new auction through
// Resubmit before that), and it answers ActualLRPIndexNotFound for LRPs
// marked gone.
type BBS struct {
	Cluster *Cluster
	// Resubmit, if set, is called after a rejection that did not fail the
	// task, as the real BBS then asks the auctioneer to place it again.
	Resubmit func(taskGuid string)

	mu          sync.Mutex
	cellsErr    error
	lrpFailures map[models.ActualLRPKey]string
	rejections  map[string][]string
	failedTasks map[string]string
	gone        map[models.ActualLRPKey]bool
}

// NewBBS returns a BBS over the cluster.
func NewBBS(cl *Cluster) *BBS {
	return &BBS{Cluster: cl, lrpFailures: map[models.ActualLRPKey]string{}, rejections: map[string][]string{},
		failedTasks: map[string]string{}, gone: map[models.ActualLRPKey]bool{}}
}

// FailCells makes Cells answer err (nil to recover).
func (b *BBS) FailCells(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cellsErr = err
}

// Forget makes the LRP index unknown, as if its desired LRP was deleted.
func (b *BBS) Forget(key models.ActualLRPKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone[key] = true
}

// Cells lists the cluster's cells.
func (b *BBS) Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error) {
	b.mu.Lock()
	err := b.cellsErr
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return b.Cluster.Presences(), nil
}

// FailActualLRPs records each placement error; an index gone is skipped.
func (b *BBS) FailActualLRPs(ctx context.Context, logger lager.Logger, failures []models.PlacementFailure) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range failures {
		if !b.gone[f.Key] {
			b.lrpFailures[f.Key] = f.PlacementError
		}
	}
	return nil
}

// RejectTask counts a rejection and fails the task at the third; before
// that it resubmits the task.
func (b *BBS) RejectTask(ctx context.Context, logger lager.Logger, taskGuid, cellID, reason string) error {
	b.mu.Lock()
	if _, failed := b.failedTasks[taskGuid]; failed {
		b.mu.Unlock()
		return models.ErrInvalidStateTransition
	}
	b.rejections[taskGuid] = append(b.rejections[taskGuid], reason)
	failed := len(b.rejections[taskGuid]) >= models.MaxTaskRejections
	if failed {
		b.failedTasks[taskGuid] = reason
	}
	resubmit := b.Resubmit
	b.mu.Unlock()
	if !failed && resubmit != nil {
		resubmit(taskGuid)
	}
	return nil
}

// LRPFailures returns the placement errors reported, by key (domain blank).
func (b *BBS) LRPFailures() map[models.ActualLRPKey]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[models.ActualLRPKey]string, len(b.lrpFailures))
	for k, v := range b.lrpFailures {
		out[k] = v
	}
	return out
}

// Rejections returns the reasons each task was rejected with.
func (b *BBS) Rejections(taskGuid string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.rejections[taskGuid]...)
}

// FailedTask returns the reason a task failed with, and whether it failed.
func (b *BBS) FailedTask(taskGuid string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.failedTasks[taskGuid]
	return r, ok
}
