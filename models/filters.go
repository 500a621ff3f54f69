package models

// DesiredLRPFilter narrows a desired LRP listing; empty fields match everything.
type DesiredLRPFilter struct {
	Domain       string   `json:"domain,omitempty"`
	ProcessGuids []string `json:"process_guids,omitempty"`
}

// ActualLRPFilter narrows an actual LRP listing; empty fields match everything.
type ActualLRPFilter struct {
	Domain      string `json:"domain,omitempty"`
	CellID      string `json:"cell_id,omitempty"`
	ProcessGuid string `json:"process_guid,omitempty"`
	Index       *int   `json:"index,omitempty"`
}

// TaskFilter narrows a task listing; empty fields match everything.
type TaskFilter struct {
	Domain string `json:"domain,omitempty"`
	CellID string `json:"cell_id,omitempty"`
}

// DesiredLRPSchedulingInfo is the part of a desired LRP that placement and
// convergence need; fetching it is much cheaper than whole records.
type DesiredLRPSchedulingInfo struct {
	ProcessGuid     string          `json:"process_guid"`
	Domain          string          `json:"domain"`
	Instances       int             `json:"instances"`
	RootFS          string          `json:"rootfs"`
	MemoryMB        int             `json:"memory_mb"`
	DiskMB          int             `json:"disk_mb"`
	MaxPids         int             `json:"max_pids"`
	PlacementTags   []string        `json:"placement_tags,omitempty"`
	Routes          Routes          `json:"routes,omitempty"`
	RestartPolicy   *RestartPolicy  `json:"restart_policy,omitempty"`
	RollPolicy      *RollPolicy     `json:"roll_policy,omitempty"`
	Version         string          `json:"version,omitempty"`
	ModificationTag ModificationTag `json:"modification_tag"`
}

// SchedulingInfo extracts the scheduling part of a desired LRP.
func (d *DesiredLRP) SchedulingInfo() DesiredLRPSchedulingInfo {
	return DesiredLRPSchedulingInfo{
		ProcessGuid: d.ProcessGuid, Domain: d.Domain, Instances: d.Instances, RootFS: d.RootFS,
		MemoryMB: d.MemoryMB, DiskMB: d.DiskMB, MaxPids: d.MaxPids, PlacementTags: d.PlacementTags,
		Routes: d.Routes, RestartPolicy: d.RestartPolicy, RollPolicy: d.RollPolicy, Version: d.Version,
		ModificationTag: d.ModificationTag,
	}
}

// LRPStartRequest builds the auction request for some indices of this LRP.
func (s DesiredLRPSchedulingInfo) LRPStartRequest(indices ...int) LRPStartRequest {
	return LRPStartRequest{
		ProcessGuid: s.ProcessGuid, Domain: s.Domain, Indices: indices,
		Resource:            Resource{MemoryMB: s.MemoryMB, DiskMB: s.DiskMB, MaxPids: s.MaxPids},
		PlacementConstraint: PlacementConstraint{RootFS: s.RootFS, PlacementTags: s.PlacementTags},
	}
}
