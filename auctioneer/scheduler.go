package auctioneer

import (
	"sort"

	"github.com/diego-runtime/diego/rep/repapi"
)

// Default score weights (DESIGN 11).
const (
	DefaultStartingWeight = 0.25
	DefaultLocalityWeight = 1000
)

// Weights tune the score; see Scheduler.
type Weights struct {
	// Starting is added per container the cell is still starting. Default 0.25.
	Starting float64 `json:"starting"`
	// Locality is added per instance of the same process already on the cell.
	// Default 1000, which makes spreading an app win over filling a cell.
	Locality float64 `json:"locality"`
}

// DefaultWeights are the weights of DESIGN 7.1.
func DefaultWeights() Weights {
	return Weights{Starting: DefaultStartingWeight, Locality: DefaultLocalityWeight}
}

// Scheduler decides a batch. It holds no state between calls: Schedule is a
// pure function of its arguments, so the same batch on the same cell states
// always gives the same result.
//
// For each item, in batch order (LRP index 0 first, then tasks, then other LRP
// indices; larger memory first within each group), the pipeline is:
//  1. feasibility: the cell offers the rootfs, the placement tags match, it did
//     not refuse this item before, and it is usable with room for the item;
//  2. zones: among zones with a feasible cell, keep those holding the fewest
//     instances of the item's process;
//  3. score (lower wins), summed from the scorers below; ties go to the
//     smallest cell id;
//  4. commit: debit the winner so later items see the placement.
type Scheduler struct {
	Weights Weights
	// MaxInflightStarts caps the containers starting across all cells (as
	// reported by /state plus this batch's placements); items over the cap are
	// deferred, not failed. 0 means no cap.
	MaxInflightStarts int
}

// The scorers: each adds one term to a cell's score for an item (lower is
// better). score sums them; they are called directly rather than through a
// slice because they run once per cell per item.

// resourceScore is the mean of the used fractions of memory, disk and
// containers once the item is placed: it prefers the emptiest cell.
func resourceScore(c *cell, it *item) float64 {
	mem := float64(c.total.MemoryMB-c.avail.MemoryMB+it.res.MemoryMB) * c.invMem
	disk := float64(c.total.DiskMB-c.avail.DiskMB+it.res.DiskMB) * c.invDisk
	cont := float64(c.total.Containers-c.avail.Containers+1) * c.invContainers
	return (mem + disk + cont) / 3
}

// startingScore spreads start storms: each container still starting costs.
func startingScore(w Weights, c *cell) float64 {
	return w.Starting * float64(c.starting)
}

// localityScore keeps instances of one app apart.
func localityScore(w Weights, sameProcess int) float64 {
	return w.Locality * float64(sameProcess)
}

func score(w Weights, c *cell, it *item, sameProcess int) float64 {
	return resourceScore(c, it) + startingScore(w, c) + localityScore(w, sameProcess)
}

// inverse is 1/total, or 0 for a resource the cell does not count.
func inverse(total int) float64 {
	if total <= 0 {
		return 0
	}
	return 1 / float64(total)
}

// schedule is the working state of one Schedule call.
type schedule struct {
	weights   Weights
	cells     []*cell   // sorted by id; a cell's index is its rank
	zoneCells [][]*cell // the cells of each zone, in id order
	inflight  int
	// static caches, per distinct (rootfs, tags), which cells pass the filters
	// that do not change within a batch: rootfs, placement tags, usable.
	static map[string][]bool
	// Per process guid, instance counts by cell index and by zone index, built
	// on first use (from holders) and kept current as the batch places instances.
	byCell  map[string][]int
	byZone  map[string][]int
	holders map[string][]int // the indices of the cells holding each process
}

// Schedule places the batch on the given cell states. It does not modify its
// arguments.
func (s Scheduler) Schedule(batch Batch, states []*repapi.CellState) Result {
	sc := newSchedule(s.Weights, states)
	items := orderItems(batch)
	res := Result{Work: map[string]*repapi.Work{}}
	for i := range items {
		it := &items[i]
		if s.MaxInflightStarts > 0 && sc.inflight >= s.MaxInflightStarts {
			if it.lrp != nil {
				res.Deferred.LRPs = append(res.Deferred.LRPs, *it.lrp)
			} else {
				res.Deferred.Tasks = append(res.Deferred.Tasks, *it.task)
			}
			continue
		}
		winner := sc.choose(it)
		if winner == nil {
			reason := explain(sc.cells, it)
			if it.lrp != nil {
				res.FailedLRPs = append(res.FailedLRPs, LRPFailure{LRPStart: *it.lrp, Reason: reason})
			} else {
				res.FailedTasks = append(res.FailedTasks, TaskFailure{TaskStart: *it.task, Reason: reason})
			}
			continue
		}
		sc.commit(winner, it, &res)
	}
	return res
}

func newSchedule(w Weights, states []*repapi.CellState) *schedule {
	sorted := make([]*repapi.CellState, 0, len(states))
	for _, st := range states {
		if st != nil {
			sorted = append(sorted, st)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].CellID < sorted[j].CellID })
	zoneIndex := map[string]int{}
	sc := &schedule{weights: w, byCell: map[string][]int{}, byZone: map[string][]int{}, static: map[string][]bool{}, holders: map[string][]int{}}
	for i, st := range sorted {
		z, ok := zoneIndex[st.Zone]
		if !ok {
			z = len(zoneIndex)
			zoneIndex[st.Zone] = z
			sc.zoneCells = append(sc.zoneCells, nil)
		}
		c := newCell(st, i, z)
		for guid := range c.procs {
			sc.holders[guid] = append(sc.holders[guid], i)
		}
		sc.cells = append(sc.cells, c)
		sc.zoneCells[z] = append(sc.zoneCells[z], c)
		sc.inflight += c.starting
	}
	return sc
}

// orderItems builds the batch's items in auction order.
func orderItems(b Batch) []item {
	items := make([]item, 0, b.Len())
	for i := range b.LRPs {
		l := &b.LRPs[i]
		it := newItem(l.Resource, l.PlacementConstraint, l.Avoid)
		it.lrp, it.guid, it.group = l, l.ProcessGuid, 2
		if l.Index == 0 {
			it.group = 0
		}
		items = append(items, it)
	}
	for i := range b.Tasks {
		t := &b.Tasks[i]
		it := newItem(t.Resource, t.PlacementConstraint, t.Avoid)
		it.task, it.group = t, 1
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := &items[i], &items[j]
		if a.group != b.group {
			return a.group < b.group
		}
		if a.res.MemoryMB != b.res.MemoryMB {
			return a.res.MemoryMB > b.res.MemoryMB
		}
		if a.guid != b.guid {
			return a.guid < b.guid
		}
		if a.lrp != nil && b.lrp != nil {
			return a.lrp.Index < b.lrp.Index
		}
		if a.task != nil && b.task != nil {
			return a.task.TaskGuid < b.task.TaskGuid
		}
		return false
	})
	return items
}

// counts returns the per-cell and per-zone instance counts of a process.
func (sc *schedule) counts(guid string) (byCell, byZone []int) {
	if guid == "" {
		return nil, nil
	}
	if bc, ok := sc.byCell[guid]; ok {
		return bc, sc.byZone[guid]
	}
	byCell = make([]int, len(sc.cells))
	byZone = make([]int, len(sc.zoneCells))
	for _, i := range sc.holders[guid] {
		c := sc.cells[i]
		n := c.procs[guid]
		byCell[i] = n
		byZone[c.zone] += n
	}
	sc.byCell[guid], sc.byZone[guid] = byCell, byZone
	return byCell, byZone
}

// staticFeasibility returns, by cell index, whether each cell passes the
// filters that cannot change within a batch, computed once per constraint.
func (sc *schedule) staticFeasibility(it *item) []bool {
	key := it.constraintKey()
	if ok, found := sc.static[key]; found {
		return ok
	}
	ok := make([]bool, len(sc.cells))
	for i, c := range sc.cells {
		ok[i] = c.usable && rootfsFilter.ok(c, it) && placementTagFilter.ok(c, it)
	}
	sc.static[key] = ok
	return ok
}

// choose returns the winning cell for an item, or nil if none is feasible.
// Zones come first: zones are tried in groups of equal instance counts of the
// item's process, fewest first, and the best cell of the first group with a
// feasible cell wins, whatever the scores in other zones.
func (sc *schedule) choose(it *item) *cell {
	static := sc.staticFeasibility(it)
	byCell, byZone := sc.counts(it.guid)
	if byZone == nil {
		return sc.best(sc.cells, static, nil, it)
	}
	order := make([]int, len(byZone))
	for z := range order {
		order[z] = z
	}
	sort.Slice(order, func(i, j int) bool { return byZone[order[i]] < byZone[order[j]] })
	for i := 0; i < len(order); {
		j := i
		var best *cell
		bestScore := 0.0
		for ; j < len(order) && byZone[order[j]] == byZone[order[i]]; j++ {
			c, s := sc.bestWithScore(sc.zoneCells[order[j]], static, byCell, it)
			if c != nil && (best == nil || s < bestScore || (s == bestScore && c.index < best.index)) {
				best, bestScore = c, s
			}
		}
		if best != nil {
			return best
		}
		i = j
	}
	return nil
}

func (sc *schedule) best(cells []*cell, static []bool, byCell []int, it *item) *cell {
	c, _ := sc.bestWithScore(cells, static, byCell, it)
	return c
}

// bestWithScore scans cells (in id order) for the feasible one with the
// lowest score; the first of equal scores, the smallest id, wins.
func (sc *schedule) bestWithScore(cells []*cell, static []bool, byCell []int, it *item) (*cell, float64) {
	var best *cell
	bestScore := 0.0
	for _, c := range cells {
		if !static[c.index] || !c.avail.Fits(it.res) {
			continue
		}
		if len(it.avoid) > 0 && !avoidFilter.ok(c, it) {
			continue
		}
		same := 0
		if byCell != nil {
			same = byCell[c.index]
		}
		s := score(sc.weights, c, it, same)
		if best == nil || s < bestScore {
			best, bestScore = c, s
		}
	}
	return best, bestScore
}

// commit debits the winner in memory and records the work.
func (sc *schedule) commit(c *cell, it *item, res *Result) {
	c.avail.Subtract(it.res)
	c.starting++
	sc.inflight++
	if it.guid != "" {
		byCell, byZone := sc.counts(it.guid)
		byCell[c.index]++
		byZone[c.zone]++
	}
	w := res.Work[c.id]
	if w == nil {
		w = &repapi.Work{LRPs: []repapi.LRPWork{}, Tasks: []repapi.TaskWork{}}
		res.Work[c.id] = w
	}
	if it.lrp != nil {
		w.LRPs = append(w.LRPs, repapi.LRPWork{ActualLRPKey: it.lrp.ActualLRPKey, Resource: it.lrp.Resource, PlacementConstraint: it.lrp.PlacementConstraint})
	} else {
		w.Tasks = append(w.Tasks, repapi.TaskWork{TaskGuid: it.task.TaskGuid, Domain: it.task.Domain, Resource: it.task.Resource, PlacementConstraint: it.task.PlacementConstraint})
	}
}
