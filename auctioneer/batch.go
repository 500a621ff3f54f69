package auctioneer

import (
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// LRPStart is one index of a desired LRP waiting for a cell.
type LRPStart struct {
	models.ActualLRPKey
	models.Resource
	models.PlacementConstraint
	// Avoid names cells that refused this item in an earlier round; the
	// scheduler does not offer it to them again.
	Avoid []string `json:"avoid,omitempty"`
}

// TaskStart is one task waiting for a cell.
type TaskStart struct {
	TaskGuid string `json:"task_guid"`
	Domain   string `json:"domain"`
	models.Resource
	models.PlacementConstraint
	Avoid []string `json:"avoid,omitempty"`
}

// Batch is what one auction places.
type Batch struct {
	LRPs  []LRPStart
	Tasks []TaskStart
}

// Len is the number of items in the batch.
func (b Batch) Len() int { return len(b.LRPs) + len(b.Tasks) }

// LRPFailure is an LRP index that found no cell, and why.
type LRPFailure struct {
	LRPStart
	Reason string
}

// TaskFailure is a task that found no cell, and why.
type TaskFailure struct {
	TaskStart
	Reason string
}

// Result is the scheduler's decision for one batch.
type Result struct {
	// Work is what each cell (by id) is asked to run; cells that get nothing
	// are absent.
	Work map[string]*repapi.Work
	// FailedLRPs and FailedTasks found no feasible cell; Reason is the exact
	// placement error text.
	FailedLRPs  []LRPFailure
	FailedTasks []TaskFailure
	// Deferred items were not placed because the cap on starts in flight was
	// reached; they belong in a later batch.
	Deferred Batch
}

// Placed counts the items handed to cells.
func (r Result) Placed() (lrps, tasks int) {
	for _, w := range r.Work {
		lrps += len(w.LRPs)
		tasks += len(w.Tasks)
	}
	return lrps, tasks
}

// LRPStarts expands start requests into one item per index.
func LRPStarts(reqs []*models.LRPStartRequest) []LRPStart {
	var out []LRPStart
	for _, r := range reqs {
		if r == nil {
			continue
		}
		for _, i := range r.Indices {
			out = append(out, LRPStart{
				ActualLRPKey:        models.ActualLRPKey{ProcessGuid: r.ProcessGuid, Index: i, Domain: r.Domain},
				Resource:            r.Resource,
				PlacementConstraint: r.PlacementConstraint,
			})
		}
	}
	return out
}

// TaskStarts turns task start requests into items.
func TaskStarts(reqs []*models.TaskStartRequest) []TaskStart {
	out := make([]TaskStart, 0, len(reqs))
	for _, r := range reqs {
		if r == nil {
			continue
		}
		out = append(out, TaskStart{TaskGuid: r.TaskGuid, Domain: r.Domain, Resource: r.Resource, PlacementConstraint: r.PlacementConstraint})
	}
	return out
}
