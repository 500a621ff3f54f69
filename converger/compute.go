package converger

import (
	"sort"
	"time"

	"github.com/diego-runtime/diego/models"
)

// Defaults of the convergence rules (DESIGN 11).
const (
	DefaultStaleUnclaimedTimeout  = 30 * time.Second
	DefaultTaskKickInterval       = 30 * time.Second
	DefaultPendingTaskExpiry      = 30 * time.Minute
	DefaultCompletedTaskRetention = 2 * time.Minute
	DefaultResolvingTaskTimeout   = 30 * time.Second
	// DefaultAbsentCellTaskGrace is twice the cell presence TTL (15 s): a
	// cell whose heartbeats were held back for up to two TTLs, by a slow
	// etcd or a blip in the network, comes back before its tasks are failed.
	DefaultAbsentCellTaskGrace = 30 * time.Second
)

// Task failure reasons written by the converger (DESIGN 7.2).
const (
	ReasonTaskExpired  = "not started within time limit"
	ReasonCellVanished = "cell disappeared before completion"
)

// Rules holds the time limits Compute applies. A zero field means its default.
type Rules struct {
	StaleUnclaimedTimeout  time.Duration // UNCLAIMED longer than this is auctioned again; default 30 s
	TaskKickInterval       time.Duration // PENDING not updated for this long is auctioned again; default 30 s
	PendingTaskExpiry      time.Duration // PENDING older than this (since created_at) fails; default 30 min
	CompletedTaskRetention time.Duration // COMPLETED older than this (since first_completed_at) is deleted; default 2 min
	ResolvingTaskTimeout   time.Duration // RESOLVING not updated for this long goes back to COMPLETED; default 30 s
	// AbsentCellTaskGrace: a RUNNING task fails as "cell disappeared" only
	// once its cell has been absent this long (Snapshot.CellsAbsentSince);
	// default 30 s.
	AbsentCellTaskGrace time.Duration
	// MaxInstances bounds the indices a pass walks per desired LRP, so that a
	// record with a huge count (stored before the BBS bounded it) costs no
	// more than this; default models.DefaultMaxInstances.
	MaxInstances int
	// MassLossFraction: more than this fraction of the cells holding work
	// missing at once (and at least two) is a mass loss, not acted on until
	// confirmed (see MassLoss); default 0.5.
	MassLossFraction float64
}

func (r Rules) withDefaults() Rules {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.StaleUnclaimedTimeout, DefaultStaleUnclaimedTimeout)
	def(&r.TaskKickInterval, DefaultTaskKickInterval)
	def(&r.PendingTaskExpiry, DefaultPendingTaskExpiry)
	def(&r.CompletedTaskRetention, DefaultCompletedTaskRetention)
	def(&r.ResolvingTaskTimeout, DefaultResolvingTaskTimeout)
	def(&r.AbsentCellTaskGrace, DefaultAbsentCellTaskGrace)
	if r.MaxInstances <= 0 {
		r.MaxInstances = models.DefaultMaxInstances
	}
	if r.MassLossFraction <= 0 || r.MassLossFraction >= 1 {
		r.MassLossFraction = DefaultMassLossFraction
	}
	return r
}

// Snapshot is everything Compute looks at, as listed from the BBS.
type Snapshot struct {
	Desired []*models.DesiredLRPSchedulingInfo
	Actual  []*models.ActualLRP
	Cells   []*models.CellPresence
	Domains []string // fresh domains only
	Tasks   []*models.Task
	// MassLossConfirmed says a mass loss has lasted long enough to act on
	// (the converger sets it; see MassLoss).
	MassLossConfirmed bool
	// CellsAbsentSince says since when each absent cell holding a RUNNING
	// task has been seen absent (the converger keeps it across passes; see
	// AbsentTaskCells). A cell missing from it was first seen absent now.
	CellsAbsentSince map[string]time.Time
}

// MissingIndices names indices of one desired LRP that have no ORDINARY record.
type MissingIndices struct {
	ProcessGuid string
	Indices     []int
}

// Instance names one record of an index by its instance key (used for the
// EVACUATING copies, which are removed by instance).
type Instance struct {
	Key      models.ActualLRPKey
	Instance models.ActualLRPInstanceKey
}

// TaskFailure is a task to fail and why.
type TaskFailure struct {
	TaskGuid string
	Reason   string
}

// Result is what one convergence pass should do. Every list is sorted, so equal
// snapshots give equal results.
type Result struct {
	Missing          []MissingIndices      // create UNCLAIMED + auction
	StaleUnclaimed   []models.ActualLRPKey // auction again
	CrashedToRestart []models.ActualLRPKey // CRASHED past backoff: UNCLAIMED + auction
	SuspectsToMark   []models.ActualLRPKey // CLAIMED/RUNNING on a vanished cell
	SuspectsToRemove []models.ActualLRPKey // the ORDINARY replacement is RUNNING
	SuspectsToRevert []models.ActualLRPKey // the suspect's cell came back first
	EvacuatingToDrop []Instance            // EVACUATING copies on a vanished cell
	Extras           []models.ActualLRPKey // retire: index >= instances or not desired (fresh domains only)
	TasksToFail      []TaskFailure
	TasksToKick      []string  // PENDING: auction again
	TasksToRevert    []string  // RESOLVING too long: back to COMPLETED
	TasksToDelete    []string  // COMPLETED too long ago
	MassLoss         *MassLoss // set when many cells vanished at once
	// Rolling changes (roll.go).
	RollStarts  []Instance            // outdated RUNNING: replace beside it
	RollRetires []Instance            // EVACUATING copy whose replacement serves: routes first, then stop
	RollKills   []models.ActualLRPKey // outdated RUNNING: stop and replace (max_unavailable)
	Rolls       []RollProgress        // LRPs whose roll is not done (rolling or halted)
}

// Empty reports whether the pass has nothing to do.
func (r Result) Empty() bool {
	return len(r.Missing)+len(r.StaleUnclaimed)+len(r.CrashedToRestart)+len(r.SuspectsToMark)+
		len(r.SuspectsToRemove)+len(r.SuspectsToRevert)+len(r.EvacuatingToDrop)+len(r.Extras)+
		len(r.TasksToFail)+len(r.TasksToKick)+len(r.TasksToRevert)+len(r.TasksToDelete)+
		len(r.RollStarts)+len(r.RollRetires)+len(r.RollKills) == 0
}

// MissingCount is the number of missing indices over every LRP.
func (r Result) MissingCount() int {
	n := 0
	for _, m := range r.Missing {
		n += len(m.Indices)
	}
	return n
}

// group holds the records of one index, by presence.
type group struct {
	ordinary, suspect, evacuating *models.ActualLRP
}

func (g *group) empty() bool { return g.ordinary == nil && g.suspect == nil && g.evacuating == nil }

func (g *group) add(a *models.ActualLRP) {
	switch a.Presence {
	case models.PresenceSuspect:
		g.suspect = a
	case models.PresenceEvacuating:
		g.evacuating = a
	default:
		g.ordinary = a
	}
}

// process holds one process guid's desire and records. Indices near the desired
// count live in a slice (cheap at 250,000 records); anything far beyond it (only
// bad data) in a map, so a huge index cannot blow the slice up.
type process struct {
	guid    string
	desired *models.DesiredLRPSchedulingInfo
	dense   []group
	sparse  map[int]*group
}

// denseSlack is how far past the desired instances indices still go in the slice.
const denseSlack = 64

func (p *process) group(index int) *group {
	if index < len(p.dense) {
		return &p.dense[index]
	}
	return p.sparse[index]
}

func (p *process) add(a *models.ActualLRP) {
	limit := denseSlack
	if p.desired != nil {
		limit += p.desired.Instances
	}
	if a.Index < 0 || a.Index >= limit {
		if p.sparse == nil {
			p.sparse = map[int]*group{}
		}
		g := p.sparse[a.Index]
		if g == nil {
			g = &group{}
			p.sparse[a.Index] = g
		}
		g.add(a)
		return
	}
	if a.Index >= len(p.dense) {
		size := a.Index + 1
		if p.desired != nil {
			size = max(size, p.desired.Instances)
		}
		p.dense = append(p.dense, make([]group, size-len(p.dense))...)
	}
	p.dense[a.Index].add(a)
}

// each calls f for every index that has a record.
func (p *process) each(f func(index int, g *group)) {
	for i := range p.dense {
		if !p.dense[i].empty() {
			f(i, &p.dense[i])
		}
	}
	for i, g := range p.sparse {
		f(i, g)
	}
}

// Compute decides one convergence pass. It is pure: same inputs, same Result.
//
// The rules, per index of each LRP (DESIGN 7.2, 6.3):
//   - desired index with no ORDINARY record: missing (unless a SUSPECT copy on a
//     present cell can simply be reverted);
//   - ORDINARY UNCLAIMED older than StaleUnclaimedTimeout: auction again;
//   - ORDINARY CLAIMED/RUNNING on a cell not present: mark SUSPECT;
//   - ORDINARY CRASHED whose backoff (the LRP's restart policy) has passed: restart;
//   - SUSPECT whose ORDINARY replacement is RUNNING: remove the suspect; else if
//     the suspect's cell is present again: revert;
//   - EVACUATING copy on a cell not present: drop it (nobody else will);
//   - index >= instances, or no desired LRP: retire, but only when the domain is
//     fresh, because a stale domain means the desired state may be incomplete;
//   - rolling changes: see roll.go (not while cells are lost in a mass loss).
//
// Tasks: PENDING past PendingTaskExpiry fails, PENDING not updated for
// TaskKickInterval is auctioned again; RUNNING on a cell absent for at least
// AbsentCellTaskGrace fails; RESOLVING past ResolvingTaskTimeout goes back to
// COMPLETED; COMPLETED past CompletedTaskRetention is deleted.
func Compute(snap Snapshot, now time.Time, rules Rules) Result {
	rules = rules.withDefaults()
	cells := make(map[string]bool, len(snap.Cells))
	for _, c := range snap.Cells {
		if c != nil {
			cells[c.CellID] = true
		}
	}
	gone, loss := cellsAtRisk(snap, cells, rules)
	fresh := make(map[string]bool, len(snap.Domains))
	for _, d := range snap.Domains {
		fresh[d] = true
	}
	processes := make(map[string]*process, len(snap.Desired))
	for _, d := range snap.Desired {
		if d != nil {
			if d.Instances > rules.MaxInstances {
				clamped := *d
				clamped.Instances = rules.MaxInstances
				d = &clamped
			}
			processes[d.ProcessGuid] = &process{guid: d.ProcessGuid, desired: d}
		}
	}
	// Listings come in key order, so consecutive records mostly share a guid.
	var last *process
	for _, a := range snap.Actual {
		if a == nil {
			continue
		}
		if last == nil || last.guid != a.ProcessGuid {
			last = processes[a.ProcessGuid]
			if last == nil {
				last = &process{guid: a.ProcessGuid}
				processes[a.ProcessGuid] = last
			}
		}
		last.add(a)
	}

	res := Result{MassLoss: loss}
	for guid, p := range processes {
		d := p.desired
		if d != nil {
			var missing []int
			for i := 0; i < d.Instances; i++ {
				g := p.group(i)
				if g != nil && g.ordinary != nil {
					continue
				}
				if g != nil && g.suspect != nil && cells[g.suspect.CellID] {
					continue // reverted below instead
				}
				missing = append(missing, i)
			}
			if len(missing) > 0 {
				res.Missing = append(res.Missing, MissingIndices{ProcessGuid: guid, Indices: missing})
			}
		}
		p.each(func(index int, g *group) { res.converge(d, index, g, cells, gone, fresh, now, rules) })
		if loss == nil {
			res.roll(d, p, gone)
		}
	}

	computeTasks(&res, snap.Tasks, gone, snap.CellsAbsentSince, now, rules)
	res.sort()
	return res
}

// converge applies the per-index rules to the records of one index.
// gone says whether a cell counts as vanished (see MassLoss).
func (res *Result) converge(d *models.DesiredLRPSchedulingInfo, index int, g *group, cells map[string]bool, gone func(string) bool, fresh map[string]bool, now time.Time, rules Rules) {
	key := g.key()
	if d == nil || index < 0 || index >= d.Instances {
		if fresh[key.Domain] && (g.ordinary != nil || g.suspect != nil) {
			res.Extras = append(res.Extras, key) // the BBS retires every copy of the index
		}
		retired := fresh[key.Domain] && (g.ordinary != nil || g.suspect != nil)
		if g.evacuating != nil && gone(g.evacuating.CellID) && !retired {
			res.EvacuatingToDrop = append(res.EvacuatingToDrop, Instance{Key: key, Instance: g.evacuating.ActualLRPInstanceKey})
		}
		return
	}
	if o := g.ordinary; o != nil {
		switch o.State {
		case models.ActualLRPStateUnclaimed:
			if now.Sub(time.Unix(0, o.Since)) > rules.StaleUnclaimedTimeout {
				res.StaleUnclaimed = append(res.StaleUnclaimed, key)
			}
		case models.ActualLRPStateClaimed, models.ActualLRPStateRunning:
			if gone(o.CellID) {
				res.SuspectsToMark = append(res.SuspectsToMark, key)
			}
		case models.ActualLRPStateCrashed:
			// A crash of an outdated definition has earned no backoff.
			if o.Outdated(d.Version) || d.EffectiveRestartPolicy().ShouldRestartCrashed(o, now) {
				res.CrashedToRestart = append(res.CrashedToRestart, key)
			}
		}
	}
	if s := g.suspect; s != nil {
		switch {
		case g.ordinary != nil && g.ordinary.State == models.ActualLRPStateRunning:
			// Also when the replacement's own cell vanished: the BBS keeps one
			// suspect per index, so this one goes before the replacement is
			// marked (apply chains the two calls).
			res.SuspectsToRemove = append(res.SuspectsToRemove, key)
		case cells[s.CellID]:
			res.SuspectsToRevert = append(res.SuspectsToRevert, key)
		}
	}
	if e := g.evacuating; e != nil && gone(e.CellID) {
		res.EvacuatingToDrop = append(res.EvacuatingToDrop, Instance{Key: key, Instance: e.ActualLRPInstanceKey})
	}
}

// key is the ActualLRPKey of the group (from any of its records).
func (g *group) key() models.ActualLRPKey {
	for _, a := range []*models.ActualLRP{g.ordinary, g.suspect, g.evacuating} {
		if a != nil {
			return a.ActualLRPKey
		}
	}
	return models.ActualLRPKey{}
}

func computeTasks(res *Result, tasks []*models.Task, gone func(string) bool, absentSince map[string]time.Time, now time.Time, rules Rules) {
	older := func(ns int64, d time.Duration) bool { return now.Sub(time.Unix(0, ns)) > d }
	for _, t := range tasks {
		if t == nil {
			continue
		}
		switch t.State {
		case models.TaskStatePending:
			switch {
			case older(t.CreatedAt, rules.PendingTaskExpiry):
				res.TasksToFail = append(res.TasksToFail, TaskFailure{TaskGuid: t.TaskGuid, Reason: ReasonTaskExpired})
			case older(t.UpdatedAt, rules.TaskKickInterval):
				res.TasksToKick = append(res.TasksToKick, t.TaskGuid)
			}
		case models.TaskStateRunning:
			since, known := absentSince[t.CellID]
			if !known {
				since = now
			}
			// A cell that comes back within the grace keeps its task.
			if gone(t.CellID) && now.Sub(since) >= rules.AbsentCellTaskGrace {
				res.TasksToFail = append(res.TasksToFail, TaskFailure{TaskGuid: t.TaskGuid, Reason: ReasonCellVanished})
			}
		case models.TaskStateResolving:
			if older(t.UpdatedAt, rules.ResolvingTaskTimeout) {
				res.TasksToRevert = append(res.TasksToRevert, t.TaskGuid)
			}
		case models.TaskStateCompleted:
			first := t.FirstCompletedAt
			if first == 0 {
				first = t.UpdatedAt
			}
			if older(first, rules.CompletedTaskRetention) {
				res.TasksToDelete = append(res.TasksToDelete, t.TaskGuid)
			}
		}
	}
}

// AbsentTaskCells lists the cells that hold a RUNNING task in snap and have no
// presence: the cells whose absence the converger times for
// Snapshot.CellsAbsentSince.
func AbsentTaskCells(snap Snapshot) []string {
	present := make(map[string]bool, len(snap.Cells))
	for _, c := range snap.Cells {
		if c != nil {
			present[c.CellID] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range snap.Tasks {
		if t != nil && t.State == models.TaskStateRunning && t.CellID != "" && !present[t.CellID] && !seen[t.CellID] {
			seen[t.CellID] = true
			out = append(out, t.CellID)
		}
	}
	sort.Strings(out)
	return out
}

func (r *Result) sort() {
	sortKeys := func(keys []models.ActualLRPKey) {
		sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	}
	sort.Slice(r.Missing, func(i, j int) bool { return r.Missing[i].ProcessGuid < r.Missing[j].ProcessGuid })
	sortKeys(r.StaleUnclaimed)
	sortKeys(r.CrashedToRestart)
	sortKeys(r.SuspectsToMark)
	sortKeys(r.SuspectsToRemove)
	sortKeys(r.SuspectsToRevert)
	sortKeys(r.Extras)
	sort.Slice(r.EvacuatingToDrop, func(i, j int) bool { return keyLess(r.EvacuatingToDrop[i].Key, r.EvacuatingToDrop[j].Key) })
	sort.Slice(r.TasksToFail, func(i, j int) bool { return r.TasksToFail[i].TaskGuid < r.TasksToFail[j].TaskGuid })
	sort.Strings(r.TasksToKick)
	sort.Strings(r.TasksToRevert)
	sort.Strings(r.TasksToDelete)
	r.sortRolls()
}

func keyLess(a, b models.ActualLRPKey) bool {
	if a.ProcessGuid != b.ProcessGuid {
		return a.ProcessGuid < b.ProcessGuid
	}
	return a.Index < b.Index
}
