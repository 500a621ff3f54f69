package converger

import (
	"sort"

	"github.com/diego-runtime/diego/models"
)

// Rolling changes (docs/rolling.md). A desired LRP's
// version names what its instances run; each actual LRP records the version
// it was claimed at. For an LRP whose running instances are outdated, one
// pass decides, per index below the desired count:
//
//   - the index has an EVACUATING copy (the old instance) and its ORDINARY
//     instance is RUNNING and routable: retire the copy (it leaves the routes,
//     then stops); this is also how a cell's evacuation ends;
//   - the ORDINARY instance is RUNNING, outdated, alone at its index and on a
//     present cell: roll it (the old one becomes the EVACUATING copy and keeps
//     serving; a new one is auctioned) while fewer than max_surge indices are
//     being replaced, or else kill it (stop, then replace) while fewer than
//     max_unavailable indices are down; lowest indices first;
//   - nothing new starts while the roll is halted (models.RollProgress): an
//     instance of the new version crashed models.RollHaltCrashes times. The
//     old instances keep serving until a further change (back to the old
//     definition, or a fixed one) gives the LRP another version.
//
// An ORDINARY record CRASHED from an outdated version restarts at once (see
// converge): its backoff was earned by a definition that is gone.

// RollProgress is the roll status of one LRP in a Result.
type RollProgress struct {
	ProcessGuid string
	Status      models.RollStatus
}

// roll applies the roll rules to one desired LRP.
func (res *Result) roll(d *models.DesiredLRPSchedulingInfo, p *process, gone func(string) bool) {
	if d == nil || d.Version == "" {
		return
	}
	var records []*models.ActualLRP
	p.each(func(_ int, g *group) {
		for _, a := range []*models.ActualLRP{g.ordinary, g.suspect, g.evacuating} {
			if a != nil {
				records = append(records, a)
			}
		}
	})
	status := models.RollProgress(d, records)
	if status.State != models.RollStateDone {
		res.Rolls = append(res.Rolls, RollProgress{ProcessGuid: d.ProcessGuid, Status: status})
	}
	policy := d.EffectiveRollPolicy()
	surging, down := 0, 0
	var candidates []*models.ActualLRP
	for i := 0; i < d.Instances; i++ {
		g := p.group(i)
		if g == nil {
			down++
			continue
		}
		o, e := g.ordinary, g.evacuating
		serving := o != nil && o.State == models.ActualLRPStateRunning && o.Routable
		switch {
		case e != nil && serving:
			if !gone(e.CellID) {
				res.RollRetires = append(res.RollRetires, Instance{Key: e.ActualLRPKey, Instance: e.ActualLRPInstanceKey})
			}
		case e != nil:
			surging++
		case o == nil || o.State != models.ActualLRPStateRunning:
			down++
		case o.Outdated(d.Version) && g.suspect == nil && !gone(o.CellID):
			candidates = append(candidates, o)
		}
	}
	if status.State != models.RollStateRolling {
		return
	}
	for _, o := range candidates {
		switch {
		case surging < policy.MaxSurge:
			surging++
			res.RollStarts = append(res.RollStarts, Instance{Key: o.ActualLRPKey, Instance: o.ActualLRPInstanceKey})
		case down < policy.MaxUnavailable:
			down++
			res.RollKills = append(res.RollKills, o.ActualLRPKey)
		default:
			return
		}
	}
}

func (r *Result) sortRolls() {
	byKey := func(s []Instance) {
		sort.Slice(s, func(i, j int) bool { return keyLess(s[i].Key, s[j].Key) })
	}
	byKey(r.RollStarts)
	byKey(r.RollRetires)
	sort.Slice(r.RollKills, func(i, j int) bool { return keyLess(r.RollKills[i], r.RollKills[j]) })
	sort.Slice(r.Rolls, func(i, j int) bool { return r.Rolls[i].ProcessGuid < r.Rolls[j].ProcessGuid })
}
