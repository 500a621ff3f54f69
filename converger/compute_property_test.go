package converger_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/models"
)

// randomSnapshot builds a messy but well-formed snapshot: a few LRPs in fresh
// and stale domains, records of every state and presence (at most one per slot),
// some on vanished cells, some with no desired LRP, and tasks of every state.
func randomSnapshot(r *rand.Rand) converger.Snapshot {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	age := func() time.Duration { return time.Duration(r.Int64N(int64(40 * time.Minute))) }
	allCells := []string{"c1", "c2", "c3", "c4"}
	var snap converger.Snapshot
	for _, c := range allCells[:r.IntN(len(allCells)+1)] {
		snap.Cells = append(snap.Cells, &models.CellPresence{CellID: c})
	}
	snap.Domains = []string{"d-fresh"}
	domains := []string{"d-fresh", "d-stale"}
	for p := range r.IntN(6) {
		guid := fmt.Sprintf("p%d", p)
		domain := pick(domains...)
		if r.IntN(4) > 0 {
			d := &models.DesiredLRPSchedulingInfo{ProcessGuid: guid, Domain: domain, Instances: r.IntN(5)}
			if r.IntN(3) == 0 {
				d.RestartPolicy = &models.RestartPolicy{ImmediateRestarts: r.IntN(3), BaseBackoffMs: r.Int64N(60000), MaxBackoffMs: r.Int64N(600000), MaxRestarts: r.IntN(10)}
			}
			snap.Desired = append(snap.Desired, d)
		}
		for i := range 6 {
			for _, presence := range []string{models.PresenceOrdinary, models.PresenceSuspect, models.PresenceEvacuating} {
				if r.IntN(3) > 0 {
					continue
				}
				a := &models.ActualLRP{
					ActualLRPKey: models.ActualLRPKey{ProcessGuid: guid, Index: i, Domain: domain},
					State:        pick(models.ActualLRPStateUnclaimed, models.ActualLRPStateClaimed, models.ActualLRPStateRunning, models.ActualLRPStateCrashed),
					Presence:     presence, Since: now.Add(-age()).UnixNano(), CrashCount: r.IntN(210),
				}
				if a.State == models.ActualLRPStateClaimed || a.State == models.ActualLRPStateRunning {
					a.ActualLRPInstanceKey = models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("i-%s-%d-%s", guid, i, presence), CellID: pick(allCells...)}
				}
				snap.Actual = append(snap.Actual, a)
			}
		}
	}
	for t := range r.IntN(8) {
		snap.Tasks = append(snap.Tasks, &models.Task{
			TaskGuid: fmt.Sprintf("t%d", t), Domain: pick(domains...),
			State:     pick(models.TaskStatePending, models.TaskStateRunning, models.TaskStateCompleted, models.TaskStateResolving),
			CellID:    pick(allCells...),
			CreatedAt: now.Add(-age()).UnixNano(), UpdatedAt: now.Add(-age()).UnixNano(), FirstCompletedAt: now.Add(-age()).UnixNano(),
		})
	}
	return snap
}

type slot struct {
	guid     string
	index    int
	presence string
}

var _ = Describe("Compute on random snapshots", func() {
	It("keeps its promises", func() {
		seed := GinkgoRandomSeed()
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		for range 2000 {
			snap := randomSnapshot(r)
			res := converger.Compute(snap, now, converger.Rules{})

			records := map[slot]*models.ActualLRP{}
			for _, a := range snap.Actual {
				records[slot{a.ProcessGuid, a.Index, a.Presence}] = a
			}
			desired := map[string]*models.DesiredLRPSchedulingInfo{}
			for _, d := range snap.Desired {
				desired[d.ProcessGuid] = d
			}
			present := map[string]bool{}
			for _, c := range snap.Cells {
				present[c.CellID] = true
			}
			isFresh := func(domain string) bool { return domain == "d-fresh" }
			record := func(k models.ActualLRPKey, presence string) *models.ActualLRP {
				return records[slot{k.ProcessGuid, k.Index, presence}]
			}
			exists := func(k models.ActualLRPKey) bool {
				return record(k, models.PresenceOrdinary) != nil || record(k, models.PresenceSuspect) != nil || record(k, models.PresenceEvacuating) != nil
			}

			By("naming only records that exist, in the state the rule is about")
			for _, k := range res.StaleUnclaimed {
				Expect(record(k, models.PresenceOrdinary)).NotTo(BeNil())
				Expect(record(k, models.PresenceOrdinary).State).To(Equal(models.ActualLRPStateUnclaimed))
			}
			restarted := map[models.ActualLRPKey]bool{}
			for _, k := range res.CrashedToRestart {
				Expect(record(k, models.PresenceOrdinary)).NotTo(BeNil())
				Expect(record(k, models.PresenceOrdinary).State).To(Equal(models.ActualLRPStateCrashed))
				restarted[k] = true
			}

			By("restarting exactly the desired CRASHED records the BBS will agree are due")
			for _, a := range snap.Actual {
				d := desired[a.ProcessGuid]
				if a.Presence != models.PresenceOrdinary || a.State != models.ActualLRPStateCrashed || d == nil || a.Index >= d.Instances {
					continue
				}
				Expect(restarted[a.ActualLRPKey]).To(Equal(d.EffectiveRestartPolicy().ShouldRestartCrashed(a, now)), "%+v", a.ActualLRPKey)
			}
			for _, k := range res.SuspectsToMark {
				o := record(k, models.PresenceOrdinary)
				Expect(o).NotTo(BeNil())
				Expect(o.State).To(BeElementOf(models.ActualLRPStateClaimed, models.ActualLRPStateRunning))
				Expect(present[o.CellID]).To(BeFalse())
			}
			for _, k := range res.SuspectsToRemove {
				Expect(record(k, models.PresenceSuspect)).NotTo(BeNil())
				Expect(record(k, models.PresenceOrdinary).State).To(Equal(models.ActualLRPStateRunning))
			}
			for _, k := range res.SuspectsToRevert {
				s := record(k, models.PresenceSuspect)
				Expect(s).NotTo(BeNil())
				Expect(present[s.CellID]).To(BeTrue())
				if o := record(k, models.PresenceOrdinary); o != nil {
					Expect(o.State).NotTo(Equal(models.ActualLRPStateRunning))
				}
			}
			for _, e := range res.EvacuatingToDrop {
				ev := record(e.Key, models.PresenceEvacuating)
				Expect(ev).NotTo(BeNil())
				Expect(ev.ActualLRPInstanceKey).To(Equal(e.Instance))
				Expect(present[ev.CellID]).To(BeFalse())
			}
			for _, k := range res.Extras {
				Expect(exists(k)).To(BeTrue())
				d := desired[k.ProcessGuid]
				Expect(d == nil || k.Index >= d.Instances).To(BeTrue())
			}

			By("doing nothing destructive to a stale domain")
			for _, k := range res.Extras {
				Expect(isFresh(k.Domain)).To(BeTrue(), "retired %v of a stale domain", k)
			}

			By("listing every missing index exactly once, and only missing ones")
			seen := map[slot]int{}
			for _, m := range res.Missing {
				d := desired[m.ProcessGuid]
				Expect(d).NotTo(BeNil())
				for _, i := range m.Indices {
					Expect(i).To(BeNumerically("<", d.Instances))
					Expect(record(models.ActualLRPKey{ProcessGuid: m.ProcessGuid, Index: i}, models.PresenceOrdinary)).To(BeNil())
					seen[slot{m.ProcessGuid, i, ""}]++
				}
			}
			for _, d := range snap.Desired {
				for i := range d.Instances {
					k := models.ActualLRPKey{ProcessGuid: d.ProcessGuid, Index: i}
					s := record(k, models.PresenceSuspect)
					revertible := s != nil && present[s.CellID]
					if record(k, models.PresenceOrdinary) == nil && !revertible {
						Expect(seen[slot{d.ProcessGuid, i, ""}]).To(Equal(1), "index %d of %s", i, d.ProcessGuid)
					} else {
						Expect(seen[slot{d.ProcessGuid, i, ""}]).To(Equal(0))
					}
				}
			}

			By("acting on each task at most once, in the state the rule is about")
			tasks := map[string]*models.Task{}
			for _, t := range snap.Tasks {
				tasks[t.TaskGuid] = t
			}
			acted := map[string]int{}
			for _, f := range res.TasksToFail {
				Expect(tasks[f.TaskGuid].State).To(BeElementOf(models.TaskStatePending, models.TaskStateRunning))
				acted[f.TaskGuid]++
			}
			for _, g := range res.TasksToKick {
				Expect(tasks[g].State).To(Equal(models.TaskStatePending))
				acted[g]++
			}
			for _, g := range res.TasksToRevert {
				Expect(tasks[g].State).To(Equal(models.TaskStateResolving))
				acted[g]++
			}
			for _, g := range res.TasksToDelete {
				Expect(tasks[g].State).To(Equal(models.TaskStateCompleted))
				acted[g]++
			}
			for g, n := range acted {
				Expect(n).To(Equal(1), "task %s", g)
			}
		}
	})
})
