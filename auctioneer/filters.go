package auctioneer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// Placement error texts (DESIGN 7.1). They travel to the BBS as the LRP's
// placement_error or the task's failure reason, so they never change.
const (
	ErrTextRootFS            = "found no compatible cell for required rootfs"
	errTextPlacementTagFmt   = "found no compatible cell with placement tag %q"
	errTextResourcesPrefix   = "insufficient resources: "
	ErrTextNoCells           = "no cells available"
	errTextRefusedPrefix     = "refused by cell "
	resourceMemory           = "memory"
	resourceDisk             = "disk"
	resourceContainers       = "containers"
	rootfsPreloadedScheme    = "preloaded"
	rootfsProviderAnyImage   = "docker"
	rootfsProviderPreloaded  = "preloaded"
	maxExplainedPlacementTag = 8
)

// PlacementTagError is the exact text for a placement tag no cell matches.
func PlacementTagError(tags ...string) string {
	return fmt.Sprintf(errTextPlacementTagFmt, strings.Join(tags, ", "))
}

// InsufficientResourcesError is the exact text naming the lacking resources.
func InsufficientResourcesError(resources ...string) string {
	return errTextResourcesPrefix + strings.Join(resources, ", ")
}

// cell is the scheduler's working copy of one cell's state; placements debit it.
type cell struct {
	id        string
	index     int
	zone      int
	total     repapi.Resources
	avail     repapi.Resources
	starting  int
	usable    bool // healthy and not evacuating
	anyImage  bool
	preloaded map[string]bool
	required  []string
	allowed   map[string]bool // required and optional tags
	procs     map[string]int  // instances per process guid, as /state reported
	// 1/total of each resource, so scoring multiplies instead of dividing.
	invMem, invDisk, invContainers float64
}

func newCell(s *repapi.CellState, index, zone int) *cell {
	c := &cell{
		id:       s.CellID,
		index:    index,
		zone:     zone,
		total:    s.TotalResources,
		avail:    s.AvailableResources,
		starting: s.StartingContainerCount,
		usable:   s.Healthy && !s.Evacuating,
		required: s.PlacementTags,
		procs:    make(map[string]int, len(s.LRPs)),

		invMem:        inverse(s.TotalResources.MemoryMB),
		invDisk:       inverse(s.TotalResources.DiskMB),
		invContainers: inverse(s.TotalResources.Containers),
	}
	_, c.anyImage = s.RootFSProviders[rootfsProviderAnyImage]
	if names := s.RootFSProviders[rootfsProviderPreloaded]; len(names) > 0 {
		c.preloaded = make(map[string]bool, len(names))
		for _, n := range names {
			c.preloaded[n] = true
		}
	}
	if len(s.PlacementTags)+len(s.OptionalPlacementTags) > 0 {
		c.allowed = make(map[string]bool)
		for _, t := range s.PlacementTags {
			c.allowed[t] = true
		}
		for _, t := range s.OptionalPlacementTags {
			c.allowed[t] = true
		}
	}
	for _, l := range s.LRPs {
		c.procs[l.ProcessGuid]++
	}
	return c
}

// item is one LRP index or task as the pipeline sees it.
type item struct {
	lrp       *LRPStart
	task      *TaskStart
	guid      string // process guid; empty for a task
	group     int    // 0: LRP index 0, 1: tasks, 2: other LRP indices
	res       models.Resource
	rootfs    string
	preloaded string // the name for a preloaded:name rootfs
	isPreload bool
	imageOK   bool // a scheme any "docker" provider can fetch
	tags      []string
	avoid     []string
}

func newItem(res models.Resource, pc models.PlacementConstraint, avoid []string) item {
	it := item{res: res, tags: pc.PlacementTags, avoid: avoid, rootfs: pc.RootFS}
	scheme, rest, _ := strings.Cut(pc.RootFS, ":")
	switch scheme {
	case rootfsPreloadedScheme:
		it.isPreload, it.preloaded = true, rest
	case "docker", "oci", "docker-archive":
		it.imageOK = true
	}
	return it
}

// constraintKey names the item's rootfs and tags, for caching the filters
// that depend only on them.
func (it *item) constraintKey() string {
	if len(it.tags) == 0 {
		return it.rootfs
	}
	return it.rootfs + "\x00" + strings.Join(it.tags, "\x00")
}

// A filter decides whether a cell can take an item; its name says why not.
type filter struct {
	name string
	ok   func(c *cell, it *item) bool
}

// The feasibility filters in the order the explanation walks them.
var (
	rootfsFilter = filter{"rootfs", func(c *cell, it *item) bool {
		if it.isPreload {
			return c.preloaded[it.preloaded]
		}
		return it.imageOK && c.anyImage
	}}
	placementTagFilter = filter{"placement tags", func(c *cell, it *item) bool {
		// The cell's required tags are a subset of the request's, and the
		// request's a subset of the cell's required plus optional tags.
		for _, r := range c.required {
			if !contains(it.tags, r) {
				return false
			}
		}
		for _, t := range it.tags {
			if !c.allowed[t] {
				return false
			}
		}
		return true
	}}
	avoidFilter = filter{"refused before", func(c *cell, it *item) bool {
		return len(it.avoid) == 0 || !contains(it.avoid, c.id)
	}}
)

// explain walks the filters stage by stage over every cell and names the first
// stage that no cell passed. It runs only for items that found no cell.
func explain(cells []*cell, it *item) string {
	if len(cells) == 0 {
		return ErrTextNoCells
	}
	stage := func(in []*cell, f filter) []*cell {
		var out []*cell
		for _, c := range in {
			if f.ok(c, it) {
				out = append(out, c)
			}
		}
		return out
	}
	withRootFS := stage(cells, rootfsFilter)
	if len(withRootFS) == 0 {
		return ErrTextRootFS
	}
	withTags := stage(withRootFS, placementTagFilter)
	if len(withTags) == 0 {
		return PlacementTagError(missingTags(withRootFS, it)...)
	}
	notRefused := stage(withTags, avoidFilter)
	if len(notRefused) == 0 {
		return errTextRefusedPrefix + strings.Join(it.avoid, ", ")
	}
	return InsufficientResourcesError(lackingResources(notRefused, it)...)
}

// missingTags names the request's tags that no cell offers; if each is offered
// somewhere (only the combination fails, or cells require tags the request
// lacks), it names the cells' required tags the request lacks, else all of them.
func missingTags(cells []*cell, it *item) []string {
	var missing []string
	for _, t := range it.tags {
		offered := false
		for _, c := range cells {
			if c.allowed[t] {
				offered = true
				break
			}
		}
		if !offered {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return missing
	}
	seen := map[string]bool{}
	for _, c := range cells {
		for _, r := range c.required {
			if !contains(it.tags, r) && !seen[r] {
				seen[r] = true
				missing = append(missing, r)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > maxExplainedPlacementTag {
		missing = missing[:maxExplainedPlacementTag]
	}
	if len(missing) == 0 {
		return it.tags
	}
	return missing
}

// lackingResources lists the resources every cell lacks (memory, disk,
// containers, in that order). If no single resource is short everywhere, it
// lists every resource some cell lacks. A cell that is unhealthy or evacuating
// offers nothing.
func lackingResources(cells []*cell, it *item) []string {
	names := []string{resourceMemory, resourceDisk, resourceContainers}
	every := []bool{true, true, true}
	some := []bool{false, false, false}
	for _, c := range cells {
		a := c.avail
		if !c.usable {
			a = repapi.Resources{}
		}
		lack := []bool{a.MemoryMB < it.res.MemoryMB, a.DiskMB < it.res.DiskMB, a.Containers < 1}
		for i := range lack {
			every[i] = every[i] && lack[i]
			some[i] = some[i] || lack[i]
		}
	}
	pick := func(set []bool) []string {
		var out []string
		for i, on := range set {
			if on {
				out = append(out, names[i])
			}
		}
		return out
	}
	if out := pick(every); len(out) > 0 {
		return out
	}
	return pick(some)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
