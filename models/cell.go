package models

import "strings"

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

// RepEndpoint is the one rule that turns a presence into the base URL of the
// cell's rep: its rep_url; else its rep_address when that is a URL; else
// rep_address (host:port) reached with scheme ("http" when empty). Every
// caller (the auctioneer, the BBS) goes through it.
func (c *CellPresence) RepEndpoint(scheme string) string {
	if c.RepURL != "" {
		return c.RepURL
	}
	if strings.Contains(c.RepAddress, "://") {
		return c.RepAddress
	}
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + c.RepAddress
}
