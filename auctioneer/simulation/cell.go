// Package simulation runs simulated cells for the auctioneer's tests and
// benchmarks: each cell is a real rep API (GET /state, POST /work) over an
// in-memory fake executor with a capacity, a zone, rootfs providers and
// placement tags, and faults can be injected (slow, hanging, garbage answers,
// refusing work it advertised). The same cells can be driven without HTTP for
// throughput figures that leave the network out.
package simulation

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// Fault is how a simulated cell misbehaves.
type Fault int

// Faults a cell can show.
const (
	// Healthy answers truthfully.
	Healthy Fault = iota
	// Hang never answers GET /state (until the caller gives up).
	Hang
	// Garbage answers GET /state with a body that is not JSON.
	Garbage
	// RefuseWork advertises its capacity but refuses every POST /work item.
	RefuseWork
)

// CellConfig describes one simulated cell.
type CellConfig struct {
	ID       string
	Zone     string
	Capacity repapi.Resources
	// RootFSProviders defaults to any image plus preloaded "cflinuxfs4".
	RootFSProviders       models.RootFSProviders
	PlacementTags         []string
	OptionalPlacementTags []string
}

// Cell is one simulated cell. Its methods are safe for concurrent use.
type Cell struct {
	cfg CellConfig

	mu       sync.Mutex
	avail    repapi.Resources
	lrps     []repapi.LRP
	tasks    []repapi.Task
	starting int
	// holdStarts keeps new containers starting instead of running at once.
	holdStarts bool
	fault      Fault
	latency    time.Duration
	closed     chan struct{}
	closeOnce  sync.Once
}

// NewCell returns an empty cell.
func NewCell(cfg CellConfig) *Cell {
	if cfg.RootFSProviders == nil {
		cfg.RootFSProviders = models.RootFSProviders{"docker": {}, "preloaded": {"cflinuxfs4"}}
	}
	return &Cell{cfg: cfg, avail: cfg.Capacity, closed: make(chan struct{})}
}

// ID is the cell's id.
func (c *Cell) ID() string { return c.cfg.ID }

// Zone is the cell's zone.
func (c *Cell) Zone() string { return c.cfg.Zone }

// Capacity is what the cell offers in all.
func (c *Cell) Capacity() repapi.Resources { return c.cfg.Capacity }

// SetFault makes the cell misbehave (or behave again with Healthy).
func (c *Cell) SetFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault = f
}

// SetLatency delays every answer.
func (c *Cell) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency = d
}

// HoldStarts keeps new containers in the starting state until Started.
func (c *Cell) HoldStarts(hold bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holdStarts = hold
}

// Started turns every starting container into a running one.
func (c *Cell) Started() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starting = 0
}

// State is what GET /state answers when the cell is healthy.
func (c *Cell) State() repapi.CellState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return repapi.CellState{
		CellID:                 c.cfg.ID,
		Zone:                   c.cfg.Zone,
		RootFSProviders:        c.cfg.RootFSProviders,
		TotalResources:         c.cfg.Capacity,
		AvailableResources:     c.avail,
		LRPs:                   append([]repapi.LRP(nil), c.lrps...),
		Tasks:                  append([]repapi.Task(nil), c.tasks...),
		StartingContainerCount: c.starting,
		PlacementTags:          c.cfg.PlacementTags,
		OptionalPlacementTags:  c.cfg.OptionalPlacementTags,
		Healthy:                true,
	}
}

// Perform reserves what fits and answers the rest, as POST /work does.
func (c *Cell) Perform(w repapi.Work) repapi.Work {
	c.mu.Lock()
	defer c.mu.Unlock()
	refused := repapi.Work{LRPs: []repapi.LRPWork{}, Tasks: []repapi.TaskWork{}}
	if c.fault == RefuseWork {
		refused.LRPs = append(refused.LRPs, w.LRPs...)
		refused.Tasks = append(refused.Tasks, w.Tasks...)
		return refused
	}
	for _, l := range w.LRPs {
		if !c.avail.Fits(l.Resource) {
			refused.LRPs = append(refused.LRPs, l)
			continue
		}
		c.avail.Subtract(l.Resource)
		c.lrps = append(c.lrps, repapi.LRP{ActualLRPKey: l.ActualLRPKey, InstanceGuid: l.InstanceGuid, Resource: l.Resource})
		if c.holdStarts {
			c.starting++
		}
	}
	for _, t := range w.Tasks {
		if !c.avail.Fits(t.Resource) {
			refused.Tasks = append(refused.Tasks, t)
			continue
		}
		c.avail.Subtract(t.Resource)
		c.tasks = append(c.tasks, repapi.Task{TaskGuid: t.TaskGuid, Domain: t.Domain, Resource: t.Resource})
		if c.holdStarts {
			c.starting++
		}
	}
	return refused
}

// LRPs returns the instances the cell holds.
func (c *Cell) LRPs() []repapi.LRP {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]repapi.LRP(nil), c.lrps...)
}

// Tasks returns the tasks the cell holds.
func (c *Cell) Tasks() []repapi.Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]repapi.Task(nil), c.tasks...)
}

// Used is what the cell's containers take.
func (c *Cell) Used() repapi.Resources {
	c.mu.Lock()
	defer c.mu.Unlock()
	return repapi.Resources{
		MemoryMB:   c.cfg.Capacity.MemoryMB - c.avail.MemoryMB,
		DiskMB:     c.cfg.Capacity.DiskMB - c.avail.DiskMB,
		Containers: c.cfg.Capacity.Containers - c.avail.Containers,
	}
}

// Handler serves the rep API subset the auctioneer uses.
func (c *Cell) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+repapi.StatePath, func(w http.ResponseWriter, r *http.Request) {
		fault := c.wait(r)
		switch fault {
		case Hang:
			select {
			case <-r.Context().Done():
			case <-c.closed:
			}
			return
		case Garbage:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"cell_id": "` + c.cfg.ID + `", "total_resources": [garbage`))
			return
		}
		writeJSON(w, http.StatusOK, c.State())
	})
	mux.HandleFunc("POST "+repapi.WorkPath, func(w http.ResponseWriter, r *http.Request) {
		c.wait(r)
		var work repapi.Work
		if err := json.NewDecoder(r.Body).Decode(&work); err != nil {
			writeJSON(w, http.StatusBadRequest, models.ErrInvalidJSON)
			return
		}
		writeJSON(w, http.StatusOK, c.Perform(work))
	})
	mux.HandleFunc("GET "+repapi.PingPath, func(w http.ResponseWriter, r *http.Request) {})
	return mux
}

// wait applies the latency and returns the current fault.
func (c *Cell) wait(r *http.Request) Fault {
	c.mu.Lock()
	fault, latency := c.fault, c.latency
	c.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
		}
	}
	return fault
}

// close releases hanging requests.
func (c *Cell) close() { c.closeOnce.Do(func() { close(c.closed) }) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
