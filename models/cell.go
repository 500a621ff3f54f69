package models

// CellCapacity is what a cell offers in all.
type CellCapacity struct {
	MemoryMB   int `json:"memory_mb"`
	DiskMB     int `json:"disk_mb"`
	Containers int `json:"containers"`
}

// RootFSProviders lists what images a cell can run: the "docker" key (any list,
// even empty) means any image URI; "preloaded" names its preloaded rootfses.
type RootFSProviders map[string][]string

// CellPresence is a cell's heartbeat record, kept alive by an etcd lease.
type CellPresence struct {
	CellID                string          `json:"cell_id"`
	RepAddress            string          `json:"rep_address"`
	RepURL                string          `json:"rep_url,omitempty"`
	Zone                  string          `json:"zone"`
	Capacity              CellCapacity    `json:"capacity"`
	RootFSProviders       RootFSProviders `json:"rootfs_providers"`
	PlacementTags         []string        `json:"placement_tags"`
	OptionalPlacementTags []string        `json:"optional_placement_tags"`
	// IsolationSegment names the isolation segment the cell belongs to
	// (rep config isolation_segment); the route emitter puts it in every
	// registration of the cell's instances. Empty: none.
	IsolationSegment string `json:"isolation_segment,omitempty"`
}

// Domain is a name that stays fresh until its TTL expires (TTL 0: forever).
type Domain struct {
	Name       string `json:"name"`
	TTLSeconds int    `json:"ttl_seconds"`
}
