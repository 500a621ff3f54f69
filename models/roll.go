package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Defaults of a RollPolicy (docs/rolling.md).
const (
	DefaultMaxSurge       = 1
	DefaultMaxUnavailable = 0
	// RollHaltCrashes is how many times an instance of the new version may
	// crash before the roll halts: no further old instance is replaced.
	RollHaltCrashes = 2
)

// Roll states of RollStatus.State.
const (
	RollStateRolling = "rolling" // old instances remain and are being replaced
	RollStateHalted  = "halted"  // an instance of the new version keeps crashing; old ones keep serving
	RollStateDone    = "done"    // no instance of an older version remains
)

// RollPolicy bounds a roll. MaxSurge is how many indices may run a new
// instance beside their old one at once (default 1); MaxUnavailable is how
// many old instances may be stopped before their replacement runs (default
// 0). At least one of them must be above zero.
type RollPolicy struct {
	MaxSurge       int `json:"max_surge"`
	MaxUnavailable int `json:"max_unavailable"`
}

// EffectiveRollPolicy is the LRP's roll policy, or the defaults.
func (s DesiredLRPSchedulingInfo) EffectiveRollPolicy() RollPolicy {
	if s.RollPolicy == nil {
		return RollPolicy{MaxSurge: DefaultMaxSurge, MaxUnavailable: DefaultMaxUnavailable}
	}
	return *s.RollPolicy
}

// RollStatus is the progress of rolling a desired LRP's instances to its
// current version. Updated counts desired indices whose ORDINARY instance runs
// the current version, out of Total (the desired instances). Reason says why
// a roll halted: the index and the latest crash reason of its new instance.
type RollStatus struct {
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Updated int    `json:"updated"`
	Total   int    `json:"total"`
}

// runDefinition is what an instance runs: a change of any of it is a new
// version. The image password is left out: it is write-only and a new one
// for the same image runs the same thing.
type runDefinition struct {
	RootFS          string              `json:"rootfs"`
	ImageUsername   string              `json:"image_username"`
	Env             []EnvVar            `json:"env"`
	Setup           *Action             `json:"setup"`
	Action          *Action             `json:"action"`
	Monitor         *Action             `json:"monitor"`
	CheckDefinition *CheckDefinition    `json:"check_definition"`
	StartTimeout    uint                `json:"start_timeout"`
	MemoryMB        int                 `json:"memory_mb"`
	DiskMB          int                 `json:"disk_mb"`
	MaxPids         int                 `json:"max_pids"`
	CPUWeight       int                 `json:"cpu_weight"`
	Privileged      bool                `json:"privileged"`
	Ports           []uint32            `json:"ports"`
	EgressRules     []SecurityGroupRule `json:"egress_rules"`
}

// RunVersion names what the LRP's instances run: a hash of the fields that
// define a container (not instances, routes, annotation or policies). Equal
// definitions have equal versions, so a change and its undoing give back the
// first version, and instances still running it need no replacement.
func (d *DesiredLRP) RunVersion() string {
	def := runDefinition{
		RootFS: d.RootFS, ImageUsername: d.ImageUsername, Env: d.Env, Setup: d.Setup, Action: d.Action,
		Monitor: d.Monitor, CheckDefinition: d.CheckDefinition, StartTimeout: d.StartTimeout,
		MemoryMB: d.MemoryMB, DiskMB: d.DiskMB, MaxPids: d.MaxPids, CPUWeight: d.CPUWeight,
		Privileged: d.Privileged, Ports: d.Ports, EgressRules: d.EgressRules,
	}
	b, err := json.Marshal(def)
	if err != nil {
		// Every field is plain data; Marshal cannot fail on it.
		panic(fmt.Sprintf("models: encoding a run definition: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Outdated reports whether a record was started from a version other than
// current. Records with no version (from before rolling changes) and LRPs
// with no version are never outdated.
func (a *ActualLRP) Outdated(current string) bool {
	return current != "" && a.Version != "" && a.Version != current
}

// RollProgress computes the roll status of one desired LRP from the records
// of its process (any presence, any order). It is empty when the LRP has no
// version. The roll is halted when an ORDINARY instance of the current version
// at a desired index is not running and has crashed RollHaltCrashes times
// while older instances remain.
func RollProgress(info *DesiredLRPSchedulingInfo, actuals []*ActualLRP) RollStatus {
	if info == nil || info.Version == "" {
		return RollStatus{}
	}
	st := RollStatus{Total: info.Instances}
	old := false
	halted, haltIndex := "", -1
	for _, a := range actuals {
		if a == nil || a.Index < 0 || a.Index >= info.Instances || a.Presence == PresenceSuspect {
			continue
		}
		if a.Outdated(info.Version) || a.Presence == PresenceEvacuating {
			old = true
		}
		if a.Presence == PresenceEvacuating || a.Version != info.Version {
			continue
		}
		switch {
		case a.State == ActualLRPStateRunning:
			st.Updated++
		case a.CrashCount >= RollHaltCrashes && (haltIndex < 0 || a.Index < haltIndex):
			haltIndex = a.Index
			halted = fmt.Sprintf("instance %d of the new version crashed %d times: %s", a.Index, a.CrashCount, a.CrashReason)
		}
	}
	switch {
	case !old:
		st.State = RollStateDone
	case halted != "":
		st.State, st.Reason = RollStateHalted, halted
	default:
		st.State = RollStateRolling
	}
	return st
}

// rollPolicy checks a roll policy.
func (v *validator) rollPolicy(field string, p *RollPolicy) {
	if p == nil {
		return
	}
	v.nonNegative(join(field, "max_surge"), int64(p.MaxSurge))
	v.nonNegative(join(field, "max_unavailable"), int64(p.MaxUnavailable))
	if p.MaxSurge == 0 && p.MaxUnavailable == 0 {
		v.add(field, "must allow a surge or an unavailable instance (max_surge or max_unavailable above 0)")
	}
}
