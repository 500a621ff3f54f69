package converger

import (
	"sort"
	"time"

	"github.com/diego-runtime/diego/models"
)

// Defaults of the mass-loss guard.
const (
	DefaultMassLossFraction = 0.5
	DefaultMassLossHold     = time.Minute
)

// A mass loss is more than MassLossFraction of the cells that hold work (and
// at least two) missing from one snapshot at once. That is far likelier an
// etcd or network hiccup that let presences lapse than that many machines
// dying together; acting on it would restart the fleet and fail every running
// task. So Compute holds back what it would do because those cells are gone
// (mark instances suspect, drop evacuating copies, fail running tasks) until
// the loss is confirmed: the converger sees it last MassLossHold. Everything
// else converges as usual, and a cell that comes back in time loses nothing.

// MassLoss says which cells a pass found missing all at once.
type MassLoss struct {
	Absent []string // cells that hold work but have no presence, sorted
	Known  int      // cells present or holding work
	Held   bool     // Compute held back acting on them (not yet confirmed)
}

// cellsAtRisk decides the guard for one snapshot: absent is true for the
// cells Compute may treat as gone.
func cellsAtRisk(snap Snapshot, present map[string]bool, rules Rules) (gone func(string) bool, loss *MassLoss) {
	known := map[string]bool{}
	for id := range present {
		known[id] = true
	}
	absent := map[string]bool{}
	note := func(id string) {
		if id == "" {
			return
		}
		known[id] = true
		if !present[id] {
			absent[id] = true
		}
	}
	for _, a := range snap.Actual {
		if a == nil {
			continue
		}
		if a.Presence != models.PresenceOrdinary && a.Presence != "" || a.State == models.ActualLRPStateClaimed || a.State == models.ActualLRPStateRunning {
			note(a.CellID)
		}
	}
	for _, t := range snap.Tasks {
		if t != nil && t.State == models.TaskStateRunning {
			note(t.CellID)
		}
	}
	gone = func(id string) bool { return !present[id] }
	if len(absent) < 2 || float64(len(absent)) <= rules.MassLossFraction*float64(len(known)) {
		return gone, nil
	}
	loss = &MassLoss{Known: len(known), Held: !snap.MassLossConfirmed}
	for id := range absent {
		loss.Absent = append(loss.Absent, id)
	}
	sort.Strings(loss.Absent)
	if loss.Held {
		gone = func(string) bool { return false }
	}
	return gone, loss
}

// massLossClock turns a pass's MassLoss into the next snapshot's confirmation:
// a loss is confirmed once it has lasted hold.
type massLossClock struct {
	since time.Time // zero: no loss in the last pass
}

// confirmed reports whether a loss seen at now has lasted hold.
func (m *massLossClock) confirmed(now time.Time, hold time.Duration) bool {
	return !m.since.IsZero() && now.Sub(m.since) >= hold
}

// observe records the last pass's outcome.
func (m *massLossClock) observe(loss *MassLoss, now time.Time) {
	switch {
	case loss == nil:
		m.since = time.Time{}
	case m.since.IsZero():
		m.since = now
	}
}
