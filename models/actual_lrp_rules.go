package models

import (
	"encoding/json"
	"sort"
)

// CheckTransition says whether a writer holding instance may move the record
// to target (DESIGN 6.1). It is the one place the ActualLRP state machine
// lives; the BBS applies it under compare-and-swap.
//
// Rows are the record's state, columns the target; "same" means instance
// equals the record's instance key, "any" that the record holds no instance so
// anyone may write, "named" that instance must name both instance_guid and
// cell_id (a claim needs a holder):
//
//	from \ to   UNCLAIMED  CLAIMED  RUNNING  CRASHED
//	UNCLAIMED   any        named    named    no
//	CLAIMED     same       same     same     same
//	RUNNING     same       no       same     same
//	CRASHED     any        no       no       no
//
// UNCLAIMED -> UNCLAIMED records a placement error or a new auction;
// UNCLAIMED -> RUNNING lets a cell report a container it started directly;
// CLAIMED/RUNNING -> UNCLAIMED is a crash with an immediate restart or a
// cell giving the work back; RUNNING -> RUNNING updates net info or
// routable; CRASHED -> UNCLAIMED is the restart after the backoff. The
// converger and the BBS act on a held record with the key they read from it.
//
// Errors (checked in this order): an unknown state is
// ErrInvalidStateTransition; a held record and another instance is
// ErrActualLRPCannotBeClaimed for CLAIMED/RUNNING targets and
// ErrInvalidStateTransition otherwise; CLAIMED/RUNNING without a complete
// instance key, and every "no" cell, are ErrInvalidStateTransition.
func (a *ActualLRP) CheckTransition(target string, instance ActualLRPInstanceKey) error {
	if !knownActualLRPState(a.State) {
		return ErrInvalidStateTransition.WithMessage("the record is in unknown state %q", a.State)
	}
	if !knownActualLRPState(target) {
		return ErrInvalidStateTransition.WithMessage("unknown target state %q", target)
	}
	held := a.State == ActualLRPStateClaimed || a.State == ActualLRPStateRunning
	if held && instance != a.ActualLRPInstanceKey {
		if target == ActualLRPStateClaimed || target == ActualLRPStateRunning {
			return ErrActualLRPCannotBeClaimed.WithMessage(
				"%s/%d is held by instance %q on cell %q, not instance %q on cell %q",
				a.ProcessGuid, a.Index, a.InstanceGuid, a.CellID, instance.InstanceGuid, instance.CellID)
		}
		return ErrInvalidStateTransition.WithMessage(
			"%s/%d is held by instance %q on cell %q; instance %q on cell %q cannot move it to %s",
			a.ProcessGuid, a.Index, a.InstanceGuid, a.CellID, instance.InstanceGuid, instance.CellID, target)
	}
	if (target == ActualLRPStateClaimed || target == ActualLRPStateRunning) &&
		(instance.InstanceGuid == "" || instance.CellID == "") {
		return ErrInvalidStateTransition.WithMessage("%s needs an instance_guid and a cell_id", target)
	}
	if !actualLRPTransitionAllowed(a.State, target) {
		return ErrInvalidStateTransition.WithMessage("%s/%d cannot go from %s to %s", a.ProcessGuid, a.Index, a.State, target)
	}
	return nil
}

// AllowsTransitionTo is CheckTransition as a yes or no.
func (a *ActualLRP) AllowsTransitionTo(target string, instance ActualLRPInstanceKey) bool {
	return a.CheckTransition(target, instance) == nil
}

// actualLRPTransitionAllowed is the table above without the key checks.
func actualLRPTransitionAllowed(from, to string) bool {
	switch from {
	case ActualLRPStateUnclaimed:
		return to != ActualLRPStateCrashed
	case ActualLRPStateClaimed:
		return true
	case ActualLRPStateRunning:
		return to != ActualLRPStateClaimed
	case ActualLRPStateCrashed:
		return to == ActualLRPStateUnclaimed
	}
	return false
}

func knownActualLRPState(s string) bool {
	switch s {
	case ActualLRPStateUnclaimed, ActualLRPStateClaimed, ActualLRPStateRunning, ActualLRPStateCrashed:
		return true
	}
	return false
}

// IsRoutable reports whether the router may send traffic to the instance:
// RUNNING and routable (an evacuating or suspect copy keeps its route).
func (a *ActualLRP) IsRoutable() bool {
	return a.State == ActualLRPStateRunning && a.Routable
}

// IsHeld reports whether an instance holds the record (CLAIMED or RUNNING).
func (a *ActualLRP) IsHeld() bool {
	return a.State == ActualLRPStateClaimed || a.State == ActualLRPStateRunning
}

// ResolveActualLRPs picks the record to show for one index out of the records
// stored for it (an ordinary one plus evacuating or suspect copies): RUNNING
// first; among equals ORDINARY, then EVACUATING, then SUSPECT; then CLAIMED,
// UNCLAIMED, CRASHED; then the earlier in the list. Nil for no records.
func ResolveActualLRPs(records []*ActualLRP) *ActualLRP {
	var best *ActualLRP
	for _, r := range records {
		if r != nil && (best == nil || resolveRank(r) < resolveRank(best)) {
			best = r
		}
	}
	return best
}

// resolveRank orders records for ResolveActualLRPs; lower is preferred.
func resolveRank(a *ActualLRP) int {
	rank := 0
	if a.State != ActualLRPStateRunning {
		rank += 100
	}
	switch a.Presence {
	case "", PresenceOrdinary:
	case PresenceEvacuating:
		rank += 10
	default:
		rank += 20
	}
	switch a.State {
	case ActualLRPStateRunning, ActualLRPStateClaimed:
	case ActualLRPStateUnclaimed:
		rank++
	default:
		rank += 2
	}
	return rank
}

// ResolveActualLRPGroups groups records by (process_guid, index), resolves
// each group with ResolveActualLRPs and returns one record per index, sorted
// by process guid and index.
func ResolveActualLRPGroups(records []*ActualLRP) []*ActualLRP {
	groups := map[ActualLRPKey][]*ActualLRP{}
	for _, r := range records {
		if r == nil {
			continue
		}
		k := ActualLRPKey{ProcessGuid: r.ProcessGuid, Index: r.Index}
		groups[k] = append(groups[k], r)
	}
	out := make([]*ActualLRP, 0, len(groups))
	for _, g := range groups {
		out = append(out, ResolveActualLRPs(g))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ProcessGuid != out[j].ProcessGuid {
			return out[i].ProcessGuid < out[j].ProcessGuid
		}
		return out[i].Index < out[j].Index
	})
	return out
}

// actualLRPWire has ActualLRP's fields and none of its methods, so that
// MarshalJSON can encode it the default way.
type actualLRPWire ActualLRP

// MarshalJSON writes the flat record of DESIGN 9, with "ports": [] rather
// than null when there are none.
func (a ActualLRP) MarshalJSON() ([]byte, error) {
	if a.Ports == nil {
		a.Ports = []PortMapping{}
	}
	return json.Marshal(actualLRPWire(a))
}

// UnmarshalJSON reads the record back with no ports as nil, so a record
// survives a round trip through storage unchanged.
func (a *ActualLRP) UnmarshalJSON(data []byte) error {
	w := actualLRPWire(*a)
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if len(w.Ports) == 0 {
		w.Ports = nil
	}
	*a = ActualLRP(w)
	return nil
}

// cellPresenceWire has CellPresence's fields and none of its methods.
type cellPresenceWire CellPresence

// MarshalJSON writes empty tag lists as [] rather than null.
func (c CellPresence) MarshalJSON() ([]byte, error) {
	if c.PlacementTags == nil {
		c.PlacementTags = []string{}
	}
	if c.OptionalPlacementTags == nil {
		c.OptionalPlacementTags = []string{}
	}
	return json.Marshal(cellPresenceWire(c))
}

// UnmarshalJSON reads empty tag lists back as nil, so a record survives a
// round trip unchanged.
func (c *CellPresence) UnmarshalJSON(data []byte) error {
	w := cellPresenceWire(*c)
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if len(w.PlacementTags) == 0 {
		w.PlacementTags = nil
	}
	if len(w.OptionalPlacementTags) == 0 {
		w.OptionalPlacementTags = nil
	}
	*c = CellPresence(w)
	return nil
}
