package simulation

import (
	"fmt"
	"net/http/httptest"
	"sort"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// Cluster is a set of simulated cells, each optionally behind a real HTTP
// server on loopback.
type Cluster struct {
	Cells   []*Cell
	byID    map[string]*Cell
	servers map[string]*httptest.Server
}

// EvenCells describes n cells with the same capacity spread round robin over
// the given number of zones ("z1", "z2", ...), with ids "cell-0000" and on.
func EvenCells(n, zones int, capacity repapi.Resources) []CellConfig {
	out := make([]CellConfig, n)
	for i := range out {
		out[i] = CellConfig{ID: fmt.Sprintf("cell-%04d", i), Zone: fmt.Sprintf("z%d", i%zones+1), Capacity: capacity}
	}
	return out
}

// NewCluster builds the cells; with serveHTTP each gets an httptest server.
func NewCluster(configs []CellConfig, serveHTTP bool) *Cluster {
	cl := &Cluster{byID: map[string]*Cell{}, servers: map[string]*httptest.Server{}}
	for _, cfg := range configs {
		c := NewCell(cfg)
		cl.Cells = append(cl.Cells, c)
		cl.byID[cfg.ID] = c
		if serveHTTP {
			cl.servers[cfg.ID] = httptest.NewServer(c.Handler())
		}
	}
	return cl
}

// Cell returns the cell with that id, or nil.
func (cl *Cluster) Cell(id string) *Cell { return cl.byID[id] }

// Close stops every server.
func (cl *Cluster) Close() {
	for _, c := range cl.Cells {
		c.close()
	}
	for _, s := range cl.servers {
		s.Close()
	}
}

// Presences are the cells as the BBS lists them, with the rep URL when served.
func (cl *Cluster) Presences() []*models.CellPresence {
	out := make([]*models.CellPresence, 0, len(cl.Cells))
	for _, c := range cl.Cells {
		p := &models.CellPresence{
			CellID:                c.cfg.ID,
			Zone:                  c.cfg.Zone,
			Capacity:              models.CellCapacity{MemoryMB: c.cfg.Capacity.MemoryMB, DiskMB: c.cfg.Capacity.DiskMB, Containers: c.cfg.Capacity.Containers},
			RootFSProviders:       c.cfg.RootFSProviders,
			PlacementTags:         c.cfg.PlacementTags,
			OptionalPlacementTags: c.cfg.OptionalPlacementTags,
		}
		if s, ok := cl.servers[c.cfg.ID]; ok {
			p.RepURL = s.URL
			p.RepAddress = s.Listener.Addr().String()
		}
		out = append(out, p)
	}
	return out
}

// States reads every cell's state in memory (no HTTP, no faults).
func (cl *Cluster) States() []*repapi.CellState {
	out := make([]*repapi.CellState, len(cl.Cells))
	for i, c := range cl.Cells {
		s := c.State()
		out[i] = &s
	}
	return out
}

// Apply hands the work to the cells in memory and returns what they refused.
func (cl *Cluster) Apply(work map[string]*repapi.Work) map[string]repapi.Work {
	refused := map[string]repapi.Work{}
	for id, w := range work {
		c := cl.byID[id]
		if c == nil {
			continue
		}
		if r := c.Perform(*w); len(r.LRPs)+len(r.Tasks) > 0 {
			refused[id] = r
		}
	}
	return refused
}

// InstancesPerCell counts the instances of a process on each cell, by cell id.
func (cl *Cluster) InstancesPerCell(processGuid string) map[string]int {
	out := map[string]int{}
	for _, c := range cl.Cells {
		n := 0
		for _, l := range c.LRPs() {
			if l.ProcessGuid == processGuid {
				n++
			}
		}
		out[c.cfg.ID] = n
	}
	return out
}

// InstancesPerZone counts the instances of a process in each zone.
func (cl *Cluster) InstancesPerZone(processGuid string) map[string]int {
	out := map[string]int{}
	perCell := cl.InstancesPerCell(processGuid)
	for _, c := range cl.Cells {
		out[c.cfg.Zone] += perCell[c.cfg.ID]
	}
	return out
}

// Spread is the largest count minus the smallest.
func Spread(counts map[string]int) int {
	if len(counts) == 0 {
		return 0
	}
	vals := make([]int, 0, len(counts))
	for _, v := range counts {
		vals = append(vals, v)
	}
	sort.Ints(vals)
	return vals[len(vals)-1] - vals[0]
}
