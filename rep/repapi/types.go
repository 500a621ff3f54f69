// Package repapi is the rep's wire API: the cell state the auctioneer reads, the
// work it hands a cell, and the stop/cancel calls the BBS makes. It imports only
// models, so the auctioneer and the BBS can use it without the rep's internals.
package repapi

import "github.com/diego-runtime/diego/models"

// Paths served by the rep.
const (
	StatePath      = "/state"
	WorkPath       = "/work"
	StopLRPPath    = "/v1/lrps/{process_guid}/instances/{instance_guid}/stop"
	CancelTaskPath = "/v1/tasks/{task_guid}/cancel"
	PingPath       = "/ping"
	EvacuatePath   = "/evacuate" // on the rep's local admin address only
)

// Resources counts memory, disk and container slots.
type Resources struct {
	MemoryMB   int `json:"memory_mb"`
	DiskMB     int `json:"disk_mb"`
	Containers int `json:"containers"`
}

// Fits reports whether r has room for one more item needing res.
func (r Resources) Fits(res models.Resource) bool {
	return r.MemoryMB >= res.MemoryMB && r.DiskMB >= res.DiskMB && r.Containers >= 1
}

// Subtract debits one item needing res.
func (r *Resources) Subtract(res models.Resource) {
	r.MemoryMB -= res.MemoryMB
	r.DiskMB -= res.DiskMB
	r.Containers--
}

// LRP is an instance a cell holds, as seen by the auction.
type LRP struct {
	models.ActualLRPKey
	InstanceGuid string `json:"instance_guid"`
	models.Resource
}

// Task is a task a cell holds.
type Task struct {
	TaskGuid string `json:"task_guid"`
	Domain   string `json:"domain"`
	models.Resource
}

// CellState is what GET /state answers. It must always be truthful: the
// auctioneer places work on these numbers.
type CellState struct {
	CellID                 string                 `json:"cell_id"`
	Zone                   string                 `json:"zone"`
	RootFSProviders        models.RootFSProviders `json:"rootfs_providers"`
	TotalResources         Resources              `json:"total_resources"`
	AvailableResources     Resources              `json:"available_resources"`
	LRPs                   []LRP                  `json:"lrps"`
	Tasks                  []Task                 `json:"tasks"`
	StartingContainerCount int                    `json:"starting_container_count"`
	PlacementTags          []string               `json:"placement_tags"`
	OptionalPlacementTags  []string               `json:"optional_placement_tags"`
	Evacuating             bool                   `json:"evacuating"`
	// Healthy is false when the cell cannot run work (for example garden is
	// unreachable); the auction then treats it as having no capacity.
	Healthy bool `json:"healthy"`
}

// LRPWork asks a cell to run one index of a desired LRP.
type LRPWork struct {
	models.ActualLRPKey
	InstanceGuid string `json:"instance_guid,omitempty"` // the rep makes one when empty
	models.Resource
	models.PlacementConstraint
}

// TaskWork asks a cell to run one task.
type TaskWork struct {
	TaskGuid string `json:"task_guid"`
	Domain   string `json:"domain"`
	models.Resource
	models.PlacementConstraint
}

// Work is the body of POST /work, and also its answer: the items the cell could
// not take (empty lists when it took everything).
type Work struct {
	LRPs  []LRPWork  `json:"lrps"`
	Tasks []TaskWork `json:"tasks"`
}
