package converger_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/models"
)

// versioned is a desired LRP "web" at version v2 with a roll policy.
func versioned(instances, surge, unavailable int) *models.DesiredLRPSchedulingInfo {
	d := desired("web", instances)
	d.Version = "v2"
	d.RollPolicy = &models.RollPolicy{MaxSurge: surge, MaxUnavailable: unavailable}
	return d
}

// at builds a record of "web" at index with a version; state RUNNING records
// are routable. The instance guid names the version, so an old and a new
// instance of one index on one cell differ.
func at(index int, state, cellID, version string) *models.ActualLRP {
	a := actual("web", index, state, cellID, time.Minute)
	a.Version = version
	a.Routable = state == models.ActualLRPStateRunning
	if cellID != "" {
		a.InstanceGuid += "-" + version
	}
	return a
}

func unroutable(a *models.ActualLRP) *models.ActualLRP {
	a.Routable = false
	return a
}

// crashedAt is a record after count crashes of version: UNCLAIMED (restarted
// at once) below the default policy's three immediate restarts, else CRASHED.
func crashedAt(index, count int, version string) *models.ActualLRP {
	state := models.ActualLRPStateCrashed
	if count < 3 {
		state = models.ActualLRPStateUnclaimed
	}
	a := at(index, state, "", version)
	a.CrashCount, a.CrashReason, a.Since = count, "Instance never healthy after 5s", ago(time.Second)
	return a
}

// rollOutcome is the part of a Result the roll rules decide, by index.
type rollOutcome struct {
	Starts, Retires, Kills, Restarts []int
	State                            string // "" when no roll is listed
}

func outcomeOf(res converger.Result) rollOutcome {
	var o rollOutcome
	for _, e := range res.RollStarts {
		o.Starts = append(o.Starts, e.Key.Index)
	}
	for _, e := range res.RollRetires {
		o.Retires = append(o.Retires, e.Key.Index)
	}
	for _, k := range res.RollKills {
		o.Kills = append(o.Kills, k.Index)
	}
	for _, k := range res.CrashedToRestart {
		o.Restarts = append(o.Restarts, k.Index)
	}
	for _, r := range res.Rolls {
		o.State = r.Status.State
	}
	return o
}

const (
	running   = models.ActualLRPStateRunning
	unclaimed = models.ActualLRPStateUnclaimed
)

var _ = Describe("Compute: rolling changes", func() {
	DescribeTable("replaces outdated instances within the roll policy",
		func(d *models.DesiredLRPSchedulingInfo, actuals []*models.ActualLRP, want rollOutcome) {
			snap := converger.Snapshot{Desired: []*models.DesiredLRPSchedulingInfo{d}, Actual: actuals,
				Cells: cells("c1", "c2"), Domains: []string{freshDomain}}
			Expect(outcomeOf(converger.Compute(snap, now, converger.Rules{}))).To(Equal(want))
		},
		Entry("every instance outdated: the lowest index is rolled first, one at a time (surge 1)",
			versioned(3, 1, 0),
			[]*models.ActualLRP{at(0, running, "c1", "v1"), at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{Starts: []int{0}, State: models.RollStateRolling}),
		Entry("a replacement on its way uses the surge: nothing else starts",
			versioned(3, 1, 0),
			[]*models.ActualLRP{as(models.PresenceEvacuating, at(0, running, "c1", "v1")), at(0, unclaimed, "", ""),
				at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{State: models.RollStateRolling}),
		Entry("a replacement running but not yet routable keeps the old one serving",
			versioned(3, 1, 0),
			[]*models.ActualLRP{as(models.PresenceEvacuating, at(0, running, "c1", "v1")), unroutable(at(0, running, "c2", "v2")),
				at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{State: models.RollStateRolling}),
		Entry("a routable replacement retires the old one and frees the surge for the next index",
			versioned(3, 1, 0),
			[]*models.ActualLRP{as(models.PresenceEvacuating, at(0, running, "c1", "v1")), at(0, running, "c2", "v2"),
				at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{Starts: []int{1}, Retires: []int{0}, State: models.RollStateRolling}),
		Entry("max_surge 2 rolls two indices at once",
			versioned(3, 2, 0),
			[]*models.ActualLRP{at(0, running, "c1", "v1"), at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{Starts: []int{0, 1}, State: models.RollStateRolling}),
		Entry("max_surge 0 and max_unavailable 1 stops and replaces one instance at a time",
			versioned(3, 0, 1),
			[]*models.ActualLRP{at(0, running, "c1", "v1"), at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{Kills: []int{0}, State: models.RollStateRolling}),
		Entry("an index already down counts against max_unavailable",
			versioned(3, 0, 1),
			[]*models.ActualLRP{at(0, unclaimed, "", "v2"), at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{State: models.RollStateRolling}),
		Entry("surge first, then unavailable",
			versioned(3, 1, 1),
			[]*models.ActualLRP{at(0, running, "c1", "v1"), at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{Starts: []int{0}, Kills: []int{1}, State: models.RollStateRolling}),
		Entry("a new instance that crashed twice halts the roll; the old copy keeps serving",
			versioned(3, 1, 0),
			[]*models.ActualLRP{as(models.PresenceEvacuating, at(0, running, "c1", "v1")), crashedAt(0, 2, "v2"),
				at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{State: models.RollStateHalted}),
		Entry("one crash of a new instance does not halt the roll",
			versioned(3, 1, 0),
			[]*models.ActualLRP{as(models.PresenceEvacuating, at(0, running, "c1", "v1")), crashedAt(0, 1, "v2"),
				at(1, running, "c2", "v1"), at(2, running, "c1", "v1")},
			rollOutcome{State: models.RollStateRolling}),
		Entry("every instance current: nothing to do",
			versioned(2, 1, 0),
			[]*models.ActualLRP{at(0, running, "c1", "v2"), at(1, running, "c2", "v2")},
			rollOutcome{}),
		Entry("records from before versions are never rolled",
			versioned(2, 1, 0),
			[]*models.ActualLRP{at(0, running, "c1", ""), at(1, running, "c2", "")},
			rollOutcome{}),
		Entry("a desired LRP without a version is never rolled",
			desired("web", 1),
			[]*models.ActualLRP{at(0, running, "c1", "v1")},
			rollOutcome{}),
		Entry("an outdated instance on a vanished cell is not rolled (it becomes a suspect)",
			versioned(2, 1, 0),
			[]*models.ActualLRP{at(0, running, "c9", "v1"), at(1, running, "c2", "v1")},
			rollOutcome{Starts: []int{1}, State: models.RollStateRolling}),
		Entry("an old copy on a vanished cell is dropped, not retired through its rep",
			versioned(1, 1, 0),
			[]*models.ActualLRP{as(models.PresenceEvacuating, at(0, running, "c9", "v1")), at(0, running, "c2", "v2")},
			rollOutcome{State: models.RollStateRolling}),
		Entry("an instance CRASHED from an outdated version restarts at once, backoff or not",
			versioned(2, 1, 0),
			[]*models.ActualLRP{crashedAt(0, 5, "v1"), at(1, running, "c2", "v2")},
			rollOutcome{Restarts: []int{0}, State: models.RollStateRolling}),
		Entry("a scale-down during a roll: indices past the count are not rolled",
			versioned(1, 1, 0),
			[]*models.ActualLRP{at(0, running, "c1", "v2"), at(1, running, "c2", "v1")},
			rollOutcome{}),
		Entry("a further change during a roll: a routable replacement of the middle version retires the oldest, then is rolled itself",
			versioned(2, 1, 0),
			[]*models.ActualLRP{as(models.PresenceEvacuating, at(0, running, "c1", "v0")), at(0, running, "c2", "v1"),
				at(1, running, "c2", "v1")},
			rollOutcome{Starts: []int{1}, Retires: []int{0}, State: models.RollStateRolling}),
	)

	It("holds every roll while cells are lost in a mass loss", func() {
		d := versioned(3, 1, 0)
		snap := converger.Snapshot{Desired: []*models.DesiredLRPSchedulingInfo{d}, Domains: []string{freshDomain},
			Actual: []*models.ActualLRP{at(0, running, "c1", "v1"), at(1, running, "c2", "v1"), at(2, running, "c3", "v1")},
			Cells:  cells("c1")}
		res := converger.Compute(snap, now, converger.Rules{})
		Expect(res.MassLoss).NotTo(BeNil())
		Expect(res.RollStarts).To(BeEmpty())
	})
})
