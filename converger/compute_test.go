package converger_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/models"
)

var now = time.Unix(1_800_000_000, 0)

const (
	freshDomain = "fresh"
	staleDomain = "stale"
)

func ago(d time.Duration) int64 { return now.Add(-d).UnixNano() }

func desired(guid string, instances int) *models.DesiredLRPSchedulingInfo {
	return &models.DesiredLRPSchedulingInfo{ProcessGuid: guid, Domain: freshDomain, Instances: instances, RootFS: "docker:///busybox"}
}

func inDomain(d *models.DesiredLRPSchedulingInfo, domain string) *models.DesiredLRPSchedulingInfo {
	d.Domain = domain
	return d
}

func withPolicy(d *models.DesiredLRPSchedulingInfo, p models.RestartPolicy) *models.DesiredLRPSchedulingInfo {
	d.RestartPolicy = &p
	return d
}

// actual builds an ORDINARY record; cellID "" means unclaimed or crashed.
func actual(guid string, index int, state, cellID string, age time.Duration) *models.ActualLRP {
	a := &models.ActualLRP{
		ActualLRPKey: models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: freshDomain},
		State:        state, Since: ago(age), Presence: models.PresenceOrdinary,
	}
	if cellID != "" {
		a.ActualLRPInstanceKey = models.ActualLRPInstanceKey{InstanceGuid: guid + "-" + cellID, CellID: cellID}
	}
	return a
}

func crashed(guid string, index, count int, age time.Duration) *models.ActualLRP {
	a := actual(guid, index, models.ActualLRPStateCrashed, "", age)
	a.CrashCount = count
	return a
}

func as(presence string, a *models.ActualLRP) *models.ActualLRP {
	a.Presence = presence
	a.Evacuating = presence == models.PresenceEvacuating
	return a
}

func actualIn(domain string, a *models.ActualLRP) *models.ActualLRP {
	a.Domain = domain
	return a
}

func cells(ids ...string) []*models.CellPresence {
	out := []*models.CellPresence{}
	for _, id := range ids {
		out = append(out, &models.CellPresence{CellID: id, Zone: "z1"})
	}
	return out
}

func task(guid, state, cellID string, created, updated, firstCompleted time.Duration) *models.Task {
	t := &models.Task{TaskGuid: guid, Domain: freshDomain, State: state, CellID: cellID,
		CreatedAt: ago(created), UpdatedAt: ago(updated)}
	if firstCompleted > 0 {
		t.FirstCompletedAt = ago(firstCompleted)
	}
	return t
}

func key(guid string, index int) models.ActualLRPKey {
	return models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: freshDomain}
}

func lrps(d []*models.DesiredLRPSchedulingInfo, a ...*models.ActualLRP) converger.Snapshot {
	return converger.Snapshot{Desired: d, Actual: a, Cells: cells("cell-a", "cell-b"), Domains: []string{freshDomain}}
}

func one(d *models.DesiredLRPSchedulingInfo) []*models.DesiredLRPSchedulingInfo {
	return []*models.DesiredLRPSchedulingInfo{d}
}

func keys(ks ...models.ActualLRPKey) []models.ActualLRPKey { return ks }

var _ = Describe("Compute", func() {
	It("walks no index past MaxInstances, whatever count a stored record holds", func() {
		res := converger.Compute(lrps(one(desired("huge", 2_000_000_000))), now, converger.Rules{MaxInstances: 5})
		Expect(res.Missing).To(Equal([]converger.MissingIndices{{ProcessGuid: "huge", Indices: []int{0, 1, 2, 3, 4}}}))
	})

	DescribeTable("LRP rules",
		func(snap converger.Snapshot, expected converger.Result) {
			Expect(converger.Compute(snap, now, converger.Rules{})).To(Equal(expected))
		},

		Entry("nothing to do when every desired index runs on a present cell",
			lrps(one(desired("web", 2)),
				actual("web", 0, models.ActualLRPStateRunning, "cell-a", time.Hour),
				actual("web", 1, models.ActualLRPStateClaimed, "cell-b", time.Hour)),
			converger.Result{}),

		// missing indices
		Entry("an index with no record is missing",
			lrps(one(desired("web", 3)),
				actual("web", 0, models.ActualLRPStateRunning, "cell-a", time.Hour),
				actual("web", 2, models.ActualLRPStateRunning, "cell-a", time.Hour)),
			converger.Result{Missing: []converger.MissingIndices{{ProcessGuid: "web", Indices: []int{1}}}}),
		Entry("every index of an LRP with no records is missing, in one request",
			lrps(one(desired("web", 3))),
			converger.Result{Missing: []converger.MissingIndices{{ProcessGuid: "web", Indices: []int{0, 1, 2}}}}),
		Entry("missing indices are created for a stale domain too (creating destroys nothing)",
			converger.Snapshot{Desired: one(inDomain(desired("web", 1), staleDomain))},
			converger.Result{Missing: []converger.MissingIndices{{ProcessGuid: "web", Indices: []int{0}}}}),
		Entry("an LRP desired at 0 instances needs nothing",
			lrps(one(desired("web", 0))),
			converger.Result{}),

		// stale UNCLAIMED
		Entry("an UNCLAIMED record younger than 30 s is left to its auction",
			lrps(one(desired("web", 1)), actual("web", 0, models.ActualLRPStateUnclaimed, "", 29*time.Second)),
			converger.Result{}),
		Entry("an UNCLAIMED record older than 30 s is auctioned again",
			lrps(one(desired("web", 1)), actual("web", 0, models.ActualLRPStateUnclaimed, "", 31*time.Second)),
			converger.Result{StaleUnclaimed: keys(key("web", 0))}),

		// vanished cells
		Entry("a CLAIMED record on a vanished cell is marked SUSPECT",
			lrps(one(desired("web", 1)), actual("web", 0, models.ActualLRPStateClaimed, "cell-gone", time.Second)),
			converger.Result{SuspectsToMark: keys(key("web", 0))}),
		Entry("a RUNNING record on a vanished cell is marked SUSPECT, whatever the domain's freshness",
			converger.Snapshot{Desired: one(inDomain(desired("web", 1), staleDomain)),
				Actual: []*models.ActualLRP{actualIn(staleDomain, actual("web", 0, models.ActualLRPStateRunning, "cell-gone", time.Second))}},
			converger.Result{SuspectsToMark: keys(models.ActualLRPKey{ProcessGuid: "web", Domain: staleDomain})}),
		Entry("a SUSPECT whose replacement is RUNNING is removed",
			lrps(one(desired("web", 1)),
				as(models.PresenceSuspect, actual("web", 0, models.ActualLRPStateRunning, "cell-gone", time.Minute)),
				actual("web", 0, models.ActualLRPStateRunning, "cell-a", time.Second)),
			converger.Result{SuspectsToRemove: keys(key("web", 0))}),
		Entry("a SUSPECT whose replacement is RUNNING is removed even if its cell came back",
			lrps(one(desired("web", 1)),
				as(models.PresenceSuspect, actual("web", 0, models.ActualLRPStateRunning, "cell-b", time.Minute)),
				actual("web", 0, models.ActualLRPStateRunning, "cell-a", time.Second)),
			converger.Result{SuspectsToRemove: keys(key("web", 0))}),
		Entry("a SUSPECT whose RUNNING replacement lost its cell too is removed, and the replacement marked",
			lrps(one(desired("web", 1)),
				as(models.PresenceSuspect, actual("web", 0, models.ActualLRPStateRunning, "cell-gone", time.Minute)),
				actual("web", 0, models.ActualLRPStateRunning, "cell-gone-too", time.Second)),
			converger.Result{SuspectsToRemove: keys(key("web", 0)), SuspectsToMark: keys(key("web", 0))}),
		Entry("a SUSPECT waits while its replacement is not RUNNING and its cell is still gone",
			lrps(one(desired("web", 1)),
				as(models.PresenceSuspect, actual("web", 0, models.ActualLRPStateRunning, "cell-gone", time.Minute)),
				actual("web", 0, models.ActualLRPStateClaimed, "cell-a", time.Second)),
			converger.Result{}),
		Entry("a SUSPECT whose cell came back before the replacement ran is reverted",
			lrps(one(desired("web", 1)),
				as(models.PresenceSuspect, actual("web", 0, models.ActualLRPStateRunning, "cell-b", time.Minute)),
				actual("web", 0, models.ActualLRPStateUnclaimed, "", time.Second)),
			converger.Result{SuspectsToRevert: keys(key("web", 0))}),
		Entry("a lone SUSPECT on a returned cell is reverted, not recreated",
			lrps(one(desired("web", 1)),
				as(models.PresenceSuspect, actual("web", 0, models.ActualLRPStateRunning, "cell-b", time.Minute))),
			converger.Result{SuspectsToRevert: keys(key("web", 0))}),
		Entry("a lone SUSPECT on a vanished cell leaves its index missing",
			lrps(one(desired("web", 1)),
				as(models.PresenceSuspect, actual("web", 0, models.ActualLRPStateRunning, "cell-gone", time.Minute))),
			converger.Result{Missing: []converger.MissingIndices{{ProcessGuid: "web", Indices: []int{0}}}}),
		Entry("an EVACUATING copy on a vanished cell is dropped",
			lrps(one(desired("web", 1)),
				as(models.PresenceEvacuating, actual("web", 0, models.ActualLRPStateRunning, "cell-gone", time.Minute)),
				actual("web", 0, models.ActualLRPStateRunning, "cell-a", time.Second)),
			converger.Result{EvacuatingToDrop: []converger.Instance{{Key: key("web", 0),
				Instance: models.ActualLRPInstanceKey{InstanceGuid: "web-cell-gone", CellID: "cell-gone"}}}}),
		Entry("an EVACUATING copy on a present cell is the rep's business",
			lrps(one(desired("web", 1)),
				as(models.PresenceEvacuating, actual("web", 0, models.ActualLRPStateRunning, "cell-b", time.Minute)),
				actual("web", 0, models.ActualLRPStateUnclaimed, "", time.Second)),
			converger.Result{}),

		// crash restart policy (DESIGN 6.3)
		Entry("a CRASHED record below the immediate restarts (the BBS restarts those itself) is restarted at once",
			lrps(one(desired("web", 1)), crashed("web", 0, 2, 0)),
			converger.Result{CrashedToRestart: keys(key("web", 0))}),
		Entry("3 crashes: waits 30 s", lrps(one(desired("web", 1)), crashed("web", 0, 3, 29*time.Second)), converger.Result{}),
		Entry("3 crashes: restarted after 30 s",
			lrps(one(desired("web", 1)), crashed("web", 0, 3, 30*time.Second)),
			converger.Result{CrashedToRestart: keys(key("web", 0))}),
		Entry("5 crashes: waits 2 min", lrps(one(desired("web", 1)), crashed("web", 0, 5, 119*time.Second)), converger.Result{}),
		Entry("5 crashes: restarted after 2 min",
			lrps(one(desired("web", 1)), crashed("web", 0, 5, 120*time.Second)),
			converger.Result{CrashedToRestart: keys(key("web", 0))}),
		Entry("the backoff is capped at 16 min",
			lrps(one(desired("web", 1)), crashed("web", 0, 150, 16*time.Minute)),
			converger.Result{CrashedToRestart: keys(key("web", 0))}),
		Entry("150 crashes: still waiting just under 16 min",
			lrps(one(desired("web", 1)), crashed("web", 0, 150, 16*time.Minute-time.Second)), converger.Result{}),
		Entry("200 crashes: stays CRASHED for good",
			lrps(one(desired("web", 1)), crashed("web", 0, 200, 24*time.Hour)), converger.Result{}),
		Entry("an LRP's restart_policy overrides the backoff",
			lrps(one(withPolicy(desired("web", 1), models.RestartPolicy{ImmediateRestarts: 1, BaseBackoffMs: 100, MaxBackoffMs: 1000, MaxRestarts: 10})),
				crashed("web", 0, 3, 400*time.Millisecond)),
			converger.Result{CrashedToRestart: keys(key("web", 0))}),
		Entry("an LRP's restart_policy still makes it wait its own backoff",
			lrps(one(withPolicy(desired("web", 1), models.RestartPolicy{ImmediateRestarts: 1, BaseBackoffMs: 100, MaxBackoffMs: 1000, MaxRestarts: 10})),
				crashed("web", 0, 3, 399*time.Millisecond)),
			converger.Result{}),
		Entry("an LRP's restart_policy sets its own give-up count",
			lrps(one(withPolicy(desired("web", 1), models.RestartPolicy{ImmediateRestarts: 1, BaseBackoffMs: 100, MaxBackoffMs: 1000, MaxRestarts: 10})),
				crashed("web", 0, 10, time.Hour)),
			converger.Result{}),

		// extras, gated on freshness
		Entry("an index >= instances of a fresh domain is retired",
			lrps(one(desired("web", 1)),
				actual("web", 0, models.ActualLRPStateRunning, "cell-a", time.Hour),
				actual("web", 1, models.ActualLRPStateRunning, "cell-a", time.Hour)),
			converger.Result{Extras: keys(key("web", 1))}),
		Entry("an index >= instances of a stale domain is kept",
			converger.Snapshot{Desired: one(inDomain(desired("web", 1), staleDomain)), Cells: cells("cell-a"),
				Actual: []*models.ActualLRP{
					actualIn(staleDomain, actual("web", 0, models.ActualLRPStateRunning, "cell-a", time.Hour)),
					actualIn(staleDomain, actual("web", 1, models.ActualLRPStateRunning, "cell-a", time.Hour))}},
			converger.Result{}),
		Entry("records with no desired LRP in a fresh domain are retired, whatever their state",
			lrps(nil,
				actual("gone", 0, models.ActualLRPStateRunning, "cell-gone", time.Hour),
				crashed("gone", 1, 1, time.Hour),
				actual("gone", 2, models.ActualLRPStateUnclaimed, "", time.Hour),
				as(models.PresenceSuspect, actual("gone", 3, models.ActualLRPStateRunning, "cell-gone", time.Hour))),
			converger.Result{Extras: keys(key("gone", 0), key("gone", 1), key("gone", 2), key("gone", 3))}),
		Entry("records with no desired LRP in a stale domain are left alone, even on vanished cells",
			converger.Snapshot{Cells: cells("cell-a"), Domains: []string{freshDomain}, Actual: []*models.ActualLRP{
				actualIn(staleDomain, actual("gone", 0, models.ActualLRPStateRunning, "cell-gone", time.Hour)),
				actualIn(staleDomain, crashed("gone", 1, 1, time.Hour))}},
			converger.Result{}),
	)

	DescribeTable("task rules",
		func(t *models.Task, expected converger.Result) {
			snap := converger.Snapshot{Cells: cells("cell-a"), Domains: []string{freshDomain}, Tasks: []*models.Task{t},
				CellsAbsentSince: map[string]time.Time{"cell-gone": now.Add(-30 * time.Second), "cell-blip": now.Add(-29 * time.Second)}}
			Expect(converger.Compute(snap, now, converger.Rules{})).To(Equal(expected))
		},
		Entry("PENDING for over 30 min fails",
			task("t", models.TaskStatePending, "", 31*time.Minute, time.Second, 0),
			converger.Result{TasksToFail: []converger.TaskFailure{{TaskGuid: "t", Reason: "not started within time limit"}}}),
		Entry("PENDING not updated for the kick interval is auctioned again",
			task("t", models.TaskStatePending, "", time.Minute, 31*time.Second, 0),
			converger.Result{TasksToKick: []string{"t"}}),
		Entry("PENDING updated recently is left to its auction",
			task("t", models.TaskStatePending, "", time.Minute, 10*time.Second, 0),
			converger.Result{}),
		Entry("RUNNING on a cell absent for the grace (30 s) fails",
			task("t", models.TaskStateRunning, "cell-gone", time.Minute, time.Minute, 0),
			converger.Result{TasksToFail: []converger.TaskFailure{{TaskGuid: "t", Reason: "cell disappeared before completion"}}}),
		Entry("RUNNING on a cell absent for less than the grace waits for the cell to come back",
			task("t", models.TaskStateRunning, "cell-blip", time.Minute, time.Minute, 0),
			converger.Result{}),
		Entry("RUNNING on a cell first seen absent now waits",
			task("t", models.TaskStateRunning, "cell-new", time.Minute, time.Minute, 0),
			converger.Result{}),
		Entry("RUNNING on a present cell is left alone",
			task("t", models.TaskStateRunning, "cell-a", time.Hour, time.Hour, 0),
			converger.Result{}),
		Entry("RESOLVING for over 30 s goes back to COMPLETED",
			task("t", models.TaskStateResolving, "cell-a", time.Minute, 31*time.Second, 31*time.Second),
			converger.Result{TasksToRevert: []string{"t"}}),
		Entry("RESOLVING for less than 30 s is left to its callback",
			task("t", models.TaskStateResolving, "cell-a", time.Minute, 10*time.Second, 10*time.Second),
			converger.Result{}),
		Entry("COMPLETED over 2 min ago is deleted",
			task("t", models.TaskStateCompleted, "cell-a", time.Hour, time.Second, 121*time.Second),
			converger.Result{TasksToDelete: []string{"t"}}),
		Entry("COMPLETED under 2 min ago is kept for its client",
			task("t", models.TaskStateCompleted, "cell-a", time.Hour, time.Second, 119*time.Second),
			converger.Result{}),
	)

	It("lists the absent cells holding RUNNING tasks, for the converger to time", func() {
		snap := converger.Snapshot{Cells: cells("cell-a"), Tasks: []*models.Task{
			task("t1", models.TaskStateRunning, "cell-b", time.Minute, time.Minute, 0),
			task("t2", models.TaskStateRunning, "cell-b", time.Minute, time.Minute, 0),
			task("t3", models.TaskStateRunning, "cell-a", time.Minute, time.Minute, 0),
			task("t4", models.TaskStateCompleted, "cell-c", time.Minute, time.Minute, 0),
		}}
		Expect(converger.AbsentTaskCells(snap)).To(Equal([]string{"cell-b"}))
	})

	It("honours a configured absent-cell grace", func() {
		snap := converger.Snapshot{Tasks: []*models.Task{task("t", models.TaskStateRunning, "cell-b", time.Minute, time.Minute, 0)},
			CellsAbsentSince: map[string]time.Time{"cell-b": now.Add(-2 * time.Second)}}
		Expect(converger.Compute(snap, now, converger.Rules{AbsentCellTaskGrace: time.Second}).TasksToFail).To(HaveLen(1))
		Expect(converger.Compute(snap, now, converger.Rules{AbsentCellTaskGrace: 3 * time.Second}).TasksToFail).To(BeEmpty())
	})

	It("honours configured limits", func() {
		snap := lrps(one(desired("web", 1)), actual("web", 0, models.ActualLRPStateUnclaimed, "", 2*time.Second))
		snap.Tasks = []*models.Task{task("t", models.TaskStateCompleted, "", time.Minute, time.Minute, 2*time.Second)}
		res := converger.Compute(snap, now, converger.Rules{StaleUnclaimedTimeout: time.Second, CompletedTaskRetention: time.Second})
		Expect(res.StaleUnclaimed).To(Equal(keys(key("web", 0))))
		Expect(res.TasksToDelete).To(Equal([]string{"t"}))
	})

	It("gives equal results for equal snapshots, in a stable order", func() {
		snap := lrps([]*models.DesiredLRPSchedulingInfo{desired("b", 2), desired("a", 2)},
			actual("b", 1, models.ActualLRPStateUnclaimed, "", time.Hour),
			actual("a", 1, models.ActualLRPStateUnclaimed, "", time.Hour),
			actual("b", 0, models.ActualLRPStateUnclaimed, "", time.Hour))
		res := converger.Compute(snap, now, converger.Rules{})
		Expect(res.Missing).To(Equal([]converger.MissingIndices{{ProcessGuid: "a", Indices: []int{0}}}))
		Expect(res.StaleUnclaimed).To(Equal(keys(key("a", 1), key("b", 0), key("b", 1))))
		Expect(res.MissingCount()).To(Equal(1))
		Expect(converger.Compute(snap, now, converger.Rules{})).To(Equal(res))
	})
})
