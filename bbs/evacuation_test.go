package bbs_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Evacuation and suspects", func() {
	key := lrpKey("web", 0)
	old := instanceKey("i-old", "cell-old")
	repl := instanceKey("i-new", "cell-new")
	oldNet := models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}}
	newNet := models.ActualLRPNetInfo{Address: "10.0.0.2", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61002}}}

	BeforeEach(func() {
		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 1))).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, key, old)).To(Succeed())
		Expect(db.StartActualLRP(ctx, logger, key, old, oldNet, true)).To(Succeed())
	})

	Describe("a running instance on an evacuating cell", func() {
		It("keeps a routed EVACUATING copy until the replacement runs, then lets the container go", func() {
			keep, err := db.EvacuateRunningActualLRP(ctx, logger, key, old, oldNet)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED", "0/EVACUATING/RUNNING"))
			evac := actualAt("web", 0, models.PresenceEvacuating)
			Expect(evac.Evacuating).To(BeTrue())
			Expect(evac.Routable).To(BeTrue())
			Expect(evac.ActualLRPInstanceKey).To(Equal(old))
			Expect(auctioneer.lrpIndices("web")).To(Equal([]int{0, 0}))

			keep, err = db.EvacuateRunningActualLRP(ctx, logger, key, old, oldNet)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())

			Expect(db.ClaimActualLRP(ctx, logger, key, repl)).To(Succeed())
			Expect(db.StartActualLRP(ctx, logger, key, repl, newNet, true)).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/RUNNING", "0/EVACUATING/RUNNING"))

			keep, err = db.EvacuateRunningActualLRP(ctx, logger, key, old, oldNet)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/RUNNING"))
		})

		It("lets the rep remove its evacuating copy, and only its own", func() {
			_, err := db.EvacuateRunningActualLRP(ctx, logger, key, old, oldNet)
			Expect(err).NotTo(HaveOccurred())
			Expect(db.RemoveEvacuatingActualLRP(ctx, logger, key, repl)).To(MatchError(models.ErrActualLRPCannotBeClaimed))
			Expect(db.RemoveEvacuatingActualLRP(ctx, logger, key, old)).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED"))
			Expect(db.RemoveEvacuatingActualLRP(ctx, logger, key, old)).To(MatchError(models.ErrActualLRPIndexNotFound))
		})

		It("drops the instance when the index is no longer desired", func() {
			Expect(db.RemoveDesiredLRP(ctx, logger, "web")).To(Succeed())
			keep, err := db.EvacuateRunningActualLRP(ctx, logger, key, old, oldNet)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())
			Expect(actualsOf("web")).To(BeEmpty())
		})

		It("removes both records of a stopped instance", func() {
			_, err := db.EvacuateRunningActualLRP(ctx, logger, key, old, oldNet)
			Expect(err).NotTo(HaveOccurred())
			Expect(db.EvacuateStoppedActualLRP(ctx, logger, key, old)).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED"))
			Expect(db.EvacuateStoppedActualLRP(ctx, logger, key, old)).To(MatchError(models.ErrActualLRPCannotBeClaimed))
		})

		It("crashes an evacuating instance: the copy goes and the index restarts elsewhere", func() {
			Expect(db.EvacuateCrashedActualLRP(ctx, logger, key, old, "Exited with status 1")).To(Succeed())
			lrp := actualAt("web", 0, models.PresenceOrdinary)
			Expect(lrp.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(lrp.CrashCount).To(Equal(1))
			Expect(actualsOf("web")).To(HaveLen(1))
		})
	})

	It("gives a claimed instance back at once", func() {
		Expect(db.RemoveActualLRP(ctx, logger, key, old)).To(Succeed())
		Expect(db.CreateUnclaimedActualLRPs(ctx, logger, "web", []int{0})).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, key, old)).To(Succeed())
		keep, err := db.EvacuateClaimedActualLRP(ctx, logger, key, old)
		Expect(err).NotTo(HaveOccurred())
		Expect(keep).To(BeFalse())
		Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED"))
	})

	Describe("the converger's suspects", func() {
		It("refuses to suspect an instance whose cell is present", func() {
			registerCell("cell-old", newFakeRep())
			Expect(db.MarkActualLRPSuspect(ctx, logger, key)).To(MatchError(models.ErrResourceConflict))
		})

		It("keeps a routed SUSPECT copy while a replacement is placed, and drops it once the replacement runs", func() {
			Expect(db.MarkActualLRPSuspect(ctx, logger, key)).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED", "0/SUSPECT/RUNNING"))
			Expect(actualAt("web", 0, models.PresenceSuspect).Routable).To(BeTrue())
			Expect(auctioneer.lrpIndices("web")).To(Equal([]int{0, 0}))
			Expect(db.RemoveSuspectActualLRP(ctx, logger, key)).To(MatchError(models.ErrResourceConflict))

			Expect(db.ClaimActualLRP(ctx, logger, key, repl)).To(Succeed())
			Expect(db.StartActualLRP(ctx, logger, key, repl, newNet, true)).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/RUNNING"))
			Expect(db.RemoveSuspectActualLRP(ctx, logger, key)).To(MatchError(models.ErrActualLRPIndexNotFound))
		})

		It("promotes the suspect back when its cell returns first, stopping the claimed replacement", func() {
			Expect(db.MarkActualLRPSuspect(ctx, logger, key)).To(Succeed())
			rep := newFakeRep()
			registerCell("cell-new", rep)
			Expect(db.ClaimActualLRP(ctx, logger, key, repl)).To(Succeed())
			Expect(db.RevertSuspectActualLRP(ctx, logger, key)).To(Succeed())
			lrp := actualAt("web", 0, models.PresenceOrdinary)
			Expect(lrp.State).To(Equal(models.ActualLRPStateRunning))
			Expect(lrp.ActualLRPInstanceKey).To(Equal(old))
			Expect(actualsOf("web")).To(HaveLen(1))
			Expect(rep.Calls()).To(ConsistOf("POST /v1/lrps/web/instances/i-new/stop"))
		})
	})

	Describe("the converger's other calls", func() {
		It("creates only missing, desired indices", func() {
			three := 3
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &three})).To(Succeed())
			_, err := etcdClient.Delete(ctx, "/diego/v1/actual/web/2/ordinary") // a record gone missing
			Expect(err).NotTo(HaveOccurred())
			Expect(db.CreateUnclaimedActualLRPs(ctx, logger, "web", []int{0, 2, 7})).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/RUNNING", "1/ORDINARY/UNCLAIMED", "2/ORDINARY/UNCLAIMED"))
			Expect(db.CreateUnclaimedActualLRPs(ctx, logger, "nope", []int{0})).To(MatchError(models.ErrDesiredLRPNotFound))
		})

		It("auctions again only indices still UNCLAIMED", func() {
			two := 2
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &two})).To(Succeed())
			before := len(auctioneer.lrpIndices("web"))
			Expect(db.AuctionActualLRPs(ctx, logger, []models.ActualLRPKey{lrpKey("web", 0), lrpKey("web", 1)})).To(Succeed())
			Expect(auctioneer.lrpIndices("web")[before:]).To(Equal([]int{1}))
		})
	})
})
