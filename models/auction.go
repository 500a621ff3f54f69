package models

// Resource is what one instance or task needs from a cell.
type Resource struct {
	MemoryMB int `json:"memory_mb"`
	DiskMB   int `json:"disk_mb"`
	MaxPids  int `json:"max_pids"`
}

// PlacementConstraint says which cells may take the work.
type PlacementConstraint struct {
	RootFS        string   `json:"rootfs"`
	PlacementTags []string `json:"placement_tags,omitempty"`
}

// LRPStartRequest asks the auctioneer to place some indices of one desired LRP.
type LRPStartRequest struct {
	ProcessGuid string `json:"process_guid"`
	Domain      string `json:"domain"`
	Indices     []int  `json:"indices"`
	Resource
	PlacementConstraint
}

// TaskStartRequest asks the auctioneer to place one task.
type TaskStartRequest struct {
	TaskGuid string `json:"task_guid"`
	Domain   string `json:"domain"`
	Resource
	PlacementConstraint
}

// PlacementFailure is an LRP index the auction could not place, and why.
type PlacementFailure struct {
	Key            ActualLRPKey `json:"actual_lrp_key"`
	PlacementError string       `json:"placement_error"`
}
