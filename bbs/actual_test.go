package bbs_test

import (
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Actual LRPs", func() {
	var key models.ActualLRPKey
	mine := instanceKey("i-1", "cell-1")
	theirs := instanceKey("i-2", "cell-2")
	net := models.ActualLRPNetInfo{Address: "10.0.0.1", InstanceAddress: "10.255.0.2", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}

	BeforeEach(func() {
		key = lrpKey("web", 0)
		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 1))).To(Succeed())
	})

	ordinary := func() *models.ActualLRP { return actualAt("web", 0, models.PresenceOrdinary) }

	Describe("claim and start", func() {
		It("moves UNCLAIMED -> CLAIMED -> RUNNING, bumping since and the tag", func() {
			before := ordinary()
			clock.Increment(time.Second)
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			claimed := ordinary()
			Expect(claimed.State).To(Equal(models.ActualLRPStateClaimed))
			Expect(claimed.ActualLRPInstanceKey).To(Equal(mine))
			Expect(claimed.Since).To(BeNumerically(">", before.Since))
			Expect(claimed.ModificationTag).To(Equal(before.ModificationTag.Increment()))

			Expect(db.StartActualLRP(ctx, logger, key, mine, net, true)).To(Succeed())
			running := ordinary()
			Expect(running.State).To(Equal(models.ActualLRPStateRunning))
			Expect(running.ActualLRPNetInfo).To(Equal(net))
			Expect(running.Routable).To(BeTrue())
			Expect(running.ModificationTag.Index).To(BeEquivalentTo(2))
		})

		It("treats a repeated claim by the same instance as a no-op", func() {
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			tag := ordinary().ModificationTag
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(ordinary().ModificationTag).To(Equal(tag))
		})

		DescribeTable("guards",
			func(setup func(), call func() error, want error) {
				setup()
				Expect(call()).To(MatchError(want))
			},
			Entry("claim of a record held by another instance", func() {
				Expect(db.ClaimActualLRP(ctx, logger, key, theirs)).To(Succeed())
			}, func() error { return db.ClaimActualLRP(ctx, logger, key, mine) }, models.ErrActualLRPCannotBeClaimed),
			Entry("start of a record held by another instance", func() {
				Expect(db.ClaimActualLRP(ctx, logger, key, theirs)).To(Succeed())
			}, func() error { return db.StartActualLRP(ctx, logger, key, mine, net, true) }, models.ErrActualLRPCannotBeClaimed),
			Entry("crash of an UNCLAIMED record", func() {},
				func() error { return db.CrashActualLRP(ctx, logger, key, mine, "boom") }, models.ErrInvalidStateTransition),
			Entry("crash by another instance", func() {
				Expect(db.ClaimActualLRP(ctx, logger, key, theirs)).To(Succeed())
			}, func() error { return db.CrashActualLRP(ctx, logger, key, mine, "boom") }, models.ErrInvalidStateTransition),
			Entry("claim of an unknown index", func() {},
				func() error { return db.ClaimActualLRP(ctx, logger, lrpKey("web", 9), mine) }, models.ErrActualLRPIndexNotFound),
			Entry("claim without an instance key", func() {},
				func() error { return db.ClaimActualLRP(ctx, logger, key, models.ActualLRPInstanceKey{}) }, models.ErrInvalidStateTransition),
			Entry("remove by another instance", func() {
				Expect(db.ClaimActualLRP(ctx, logger, key, theirs)).To(Succeed())
			}, func() error { return db.RemoveActualLRP(ctx, logger, key, mine) }, models.ErrActualLRPCannotBeClaimed),
		)

		It("lets exactly one of 20 concurrent claimers win", func() {
			var wg sync.WaitGroup
			var mu sync.Mutex
			winners := 0
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func(i int) {
					defer GinkgoRecover()
					defer wg.Done()
					err := db.ClaimActualLRP(ctx, logger, key, instanceKey("i-"+itoa(i), "cell-"+itoa(i)))
					if err == nil {
						mu.Lock()
						winners++
						mu.Unlock()
						return
					}
					Expect(err).To(MatchError(models.ErrActualLRPCannotBeClaimed))
				}(i)
			}
			wg.Wait()
			Expect(winners).To(Equal(1))
			Expect(ordinary().ModificationTag.Index).To(BeEquivalentTo(1))
		})
	})

	Describe("FailActualLRPs", func() {
		It("keeps the record UNCLAIMED with the placement error, until a claim clears it", func() {
			Expect(db.FailActualLRPs(ctx, logger, []models.PlacementFailure{{Key: key, PlacementError: "insufficient resources: memory"}})).To(Succeed())
			lrp := ordinary()
			Expect(lrp.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(lrp.PlacementError).To(Equal("insufficient resources: memory"))
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(ordinary().PlacementError).To(BeEmpty())
		})

		It("records each placement error over several transactions, skipping indices gone or no longer UNCLAIMED", func() {
			const n = 150 // more than one transaction's worth
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("many", n))).To(Succeed())
			claimed := lrpKey("many", 70)
			Expect(db.ClaimActualLRP(ctx, logger, claimed, mine)).To(Succeed())
			var failures []models.PlacementFailure
			for i := range n + 5 { // the last five were never desired
				failures = append(failures, models.PlacementFailure{Key: lrpKey("many", i), PlacementError: fmt.Sprintf("no room for %d", i)})
			}

			Expect(db.FailActualLRPs(ctx, logger, failures)).To(Succeed())
			lrps, err := db.ActualLRPs(ctx, logger, models.ActualLRPFilter{ProcessGuid: "many"})
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(n), "no record made for an index never desired")
			for _, l := range lrps {
				if l.Index == claimed.Index {
					Expect(l.State).To(Equal(models.ActualLRPStateClaimed))
					Expect(l.PlacementError).To(BeEmpty())
					continue
				}
				Expect(l.State).To(Equal(models.ActualLRPStateUnclaimed))
				Expect(l.PlacementError).To(Equal(fmt.Sprintf("no room for %d", l.Index)))
			}
		})
	})

	Describe("crashes (DESIGN 6.3)", func() {
		crash := func() {
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(db.StartActualLRP(ctx, logger, key, mine, net, true)).To(Succeed())
			Expect(db.CrashActualLRP(ctx, logger, key, mine, "Exited with status 17")).To(Succeed())
		}

		It("restarts the first two crashes at once and leaves the third CRASHED", func() {
			crash()
			lrp := ordinary()
			Expect(lrp.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(lrp.CrashCount).To(Equal(1))
			Expect(lrp.CrashReason).To(Equal("Exited with status 17"))
			Expect(lrp.ActualLRPInstanceKey.Empty()).To(BeTrue())
			Expect(auctioneer.lrpIndices("web")).To(Equal([]int{0, 0}))

			crash()
			Expect(ordinary().CrashCount).To(Equal(2))
			Expect(ordinary().State).To(Equal(models.ActualLRPStateUnclaimed))

			crash()
			lrp = ordinary()
			Expect(lrp.State).To(Equal(models.ActualLRPStateCrashed))
			Expect(lrp.CrashCount).To(Equal(3))
			Expect(auctioneer.lrpIndices("web")).To(HaveLen(3))
		})

		It("resets the count to 1 after a run of over 5 minutes", func() {
			crash()
			crash()
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(db.StartActualLRP(ctx, logger, key, mine, net, true)).To(Succeed())
			clock.Increment(5*time.Minute + time.Second)
			Expect(db.CrashActualLRP(ctx, logger, key, mine, "out of memory")).To(Succeed())
			Expect(ordinary().CrashCount).To(Equal(1))
			Expect(ordinary().State).To(Equal(models.ActualLRPStateUnclaimed))
		})

		It("uses the LRP's restart policy override", func() {
			lrp := newDesiredLRP("strict", 1)
			policy := models.DefaultRestartPolicy()
			policy.ImmediateRestarts = 1
			lrp.RestartPolicy = &policy
			Expect(db.DesireLRP(ctx, logger, lrp)).To(Succeed())
			k := lrpKey("strict", 0)
			Expect(db.ClaimActualLRP(ctx, logger, k, mine)).To(Succeed())
			Expect(db.CrashActualLRP(ctx, logger, k, mine, "boom")).To(Succeed())
			Expect(actualAt("strict", 0, models.PresenceOrdinary).State).To(Equal(models.ActualLRPStateCrashed))
		})

		It("lets the converger restart a CRASHED index only once its backoff has passed", func() {
			crash()
			crash()
			crash()
			Expect(db.RestartCrashedActualLRP(ctx, logger, key)).To(MatchError(models.ErrResourceConflict))
			clock.Increment(30 * time.Second)
			Expect(db.RestartCrashedActualLRP(ctx, logger, key)).To(Succeed())
			lrp := ordinary()
			Expect(lrp.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(lrp.CrashCount).To(Equal(3))
			Expect(lrp.CrashReason).To(Equal("Exited with status 17"))
			Expect(auctioneer.lrpIndices("web")).To(HaveLen(4))
		})

		It("removes the record when the index is no longer desired", func() {
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			_, err := etcdClient.Delete(ctx, "/diego/v1/desired/schedule/web")
			Expect(err).NotTo(HaveOccurred())
			Expect(db.CrashActualLRP(ctx, logger, key, mine, "boom")).To(Succeed())
			Expect(ordinary()).To(BeNil())
		})
	})

	Describe("RemoveActualLRP", func() {
		It("removes the instance's own record", func() {
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(db.RemoveActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(actualsOf("web")).To(BeEmpty())
			Expect(db.RemoveActualLRP(ctx, logger, key, mine)).To(MatchError(models.ErrActualLRPIndexNotFound))
		})
	})

	Describe("RetireActualLRP and KillActualLRP", func() {
		var rep *fakeRep
		BeforeEach(func() {
			rep = newFakeRep()
			registerCell("cell-1", rep)
		})

		It("retires an unclaimed index that is no longer desired by removing it", func() {
			forgetDesired("web")
			Expect(db.RetireActualLRP(ctx, logger, key)).To(Succeed())
			Expect(actualsOf("web")).To(BeEmpty())
			Expect(db.RetireActualLRP(ctx, logger, key)).To(MatchError(models.ErrActualLRPIndexNotFound))
		})

		It("retires a running index that is no longer desired through its rep", func() {
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			forgetDesired("web")
			Expect(db.RetireActualLRP(ctx, logger, key)).To(Succeed())
			Expect(rep.Calls()).To(ConsistOf("POST /v1/lrps/web/instances/i-1/stop"))
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/CLAIMED"))
		})

		// Issue 19, item 9: the converger decides to retire on a snapshot; a
		// scale back up between its snapshot and the call must win.
		It("refuses to retire an index that is desired (again), and leaves it running", func() {
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(db.StartActualLRP(ctx, logger, key, mine, net, true)).To(Succeed())
			Expect(db.RetireActualLRP(ctx, logger, key)).To(MatchError(models.ErrResourceConflict))
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/RUNNING"))
			Expect(rep.Calls()).To(BeEmpty())

			By("retiring it once it is no longer desired")
			forgetDesired("web")
			Expect(db.RetireActualLRP(ctx, logger, key)).To(Succeed())
			Expect(rep.Calls()).To(ConsistOf("POST /v1/lrps/web/instances/i-1/stop"))
		})

		It("kills a running, still desired index: a replacement is auctioned at once and the old one stopped", func() {
			Expect(db.ClaimActualLRP(ctx, logger, key, mine)).To(Succeed())
			Expect(db.StartActualLRP(ctx, logger, key, mine, net, true)).To(Succeed())
			Expect(db.KillActualLRP(ctx, logger, key)).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED"))
			Expect(auctioneer.lrpIndices("web")).To(Equal([]int{0, 0}))
			Expect(rep.Calls()).To(ConsistOf("POST /v1/lrps/web/instances/i-1/stop"))
			Expect(db.RemoveActualLRP(ctx, logger, key, mine)).To(MatchError(models.ErrActualLRPCannotBeClaimed))
		})

		It("kills an index that is no longer desired by retiring it", func() {
			zero := 0
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &zero})).To(Succeed())
			Expect(db.KillActualLRP(ctx, logger, key)).To(MatchError(models.ErrActualLRPIndexNotFound))
		})
	})
})

var _ = Describe("Several BBS processes on one etcd", func() {
	var other *bbs.DB
	key := lrpKey("web", 0)

	BeforeEach(func() {
		var err error
		other, err = bbs.New(bbs.Options{Client: etcdClient, Logger: logger, Clock: clock, Keys: keys})
		Expect(err).NotTo(HaveOccurred())
		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 1))).To(Succeed())
	})

	It("never acts on what one process last saw when another has moved the record on", func() {
		Expect(other.ClaimActualLRP(ctx, logger, key, instanceKey("a", "cell-a"))).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, key, instanceKey("b", "cell-b"))).To(MatchError(models.ErrActualLRPCannotBeClaimed))
		Expect(db.ClaimActualLRP(ctx, logger, key, instanceKey("a", "cell-a"))).To(Succeed())
		Expect(actualAt("web", 0, models.PresenceOrdinary).InstanceGuid).To(Equal("a"))
	})

	It("does not refuse on what one process last saw when another has freed the record", func() {
		Expect(db.ClaimActualLRP(ctx, logger, key, instanceKey("a", "cell-a"))).To(Succeed())
		Expect(other.CrashActualLRP(ctx, logger, key, instanceKey("a", "cell-a"), "boom")).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, key, instanceKey("b", "cell-b"))).To(Succeed())
		Expect(db.StartActualLRP(ctx, logger, key, instanceKey("b", "cell-b"), models.ActualLRPNetInfo{Address: "10.0.0.2"}, true)).To(Succeed())
		lrp := actualAt("web", 0, models.PresenceOrdinary)
		Expect(lrp.State).To(Equal(models.ActualLRPStateRunning))
		Expect(lrp.CrashCount).To(Equal(1))
	})

	It("keeps the tasks of two processes consistent", func() {
		Expect(db.DesireTask(ctx, logger, "t1", "d", newTaskDef())).To(Succeed())
		_, err := db.TaskByGuid(ctx, logger, "t1")
		Expect(err).NotTo(HaveOccurred())
		Expect(other.CancelTask(ctx, logger, "t1")).To(Succeed())
		_, err = db.StartTask(ctx, logger, "t1", "cell-1")
		Expect(err).To(MatchError(models.ErrInvalidStateTransition))
	})
})
