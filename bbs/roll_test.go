package bbs_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Rolling changes", func() {
	key := lrpKey("web", 0)
	old := instanceKey("i-old", "cell-1")
	repl := instanceKey("i-new", "cell-1")
	net := models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}}
	var rep *fakeRep

	newImage := func() {
		image := "docker:///busybox#2"
		Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{RootFS: &image})).To(Succeed())
	}
	version := func() string {
		d, err := db.DesiredLRPByProcessGuid(ctx, logger, "web")
		Expect(err).NotTo(HaveOccurred())
		return d.Version
	}

	BeforeEach(func() {
		rep = newFakeRep()
		registerCell("cell-1", rep)
		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 1))).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, key, old)).To(Succeed())
		Expect(db.StartActualLRP(ctx, logger, key, old, net, true)).To(Succeed())
	})

	It("gives the desired LRP a version and records it on each instance it claims", func() {
		v1 := version()
		Expect(v1).NotTo(BeEmpty())
		Expect(actualAt("web", 0, models.PresenceOrdinary).Version).To(Equal(v1))

		By("a change of routes or instances keeping the version")
		note := "x"
		Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Annotation: &note})).To(Succeed())
		Expect(version()).To(Equal(v1))

		By("a change of the image making a new one")
		newImage()
		Expect(version()).NotTo(Equal(v1))
		d, err := db.DesiredLRPByProcessGuid(ctx, logger, "web")
		Expect(err).NotTo(HaveOccurred())
		Expect(d.RootFS).To(Equal("docker:///busybox#2"))
	})

	It("refuses an update whose result is not a valid LRP, and changes nothing", func() {
		v1 := version()
		bad := "ftp://nope"
		err := db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{RootFS: &bad})
		Expect(err).To(MatchError(models.ErrInvalidRequest))
		Expect(version()).To(Equal(v1))
	})

	It("rolls an outdated instance: the old one keeps serving as the EVACUATING copy, a fresh record is auctioned", func() {
		By("refusing an instance that already runs the current version")
		Expect(db.RollActualLRP(ctx, logger, key, old)).To(MatchError(models.ErrResourceConflict))

		newImage()
		Expect(db.RollActualLRP(ctx, logger, key, repl)).To(MatchError(models.ErrResourceConflict), "not the instance holding the index")
		Expect(db.RollActualLRP(ctx, logger, key, old)).To(Succeed())
		Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED", "0/EVACUATING/RUNNING"))
		evac := actualAt("web", 0, models.PresenceEvacuating)
		Expect(evac.ActualLRPInstanceKey).To(Equal(old))
		Expect(evac.Routable).To(BeTrue())
		Expect(actualAt("web", 0, models.PresenceOrdinary).CrashCount).To(BeZero())
		Expect(auctioneer.lrpIndices("web")).To(Equal([]int{0, 0}))
		Expect(db.RollActualLRP(ctx, logger, key, old)).To(MatchError(models.ErrResourceConflict), "already rolling")

		By("the replacement claiming the new version")
		Expect(db.ClaimActualLRP(ctx, logger, key, repl)).To(Succeed())
		Expect(actualAt("web", 0, models.PresenceOrdinary).Version).To(Equal(version()))
		Expect(db.StartActualLRP(ctx, logger, key, repl, net, true)).To(Succeed())

		By("retiring the old one through its rep, which withdraws the copy before it stops")
		Expect(db.RetireEvacuatingActualLRP(ctx, logger, key, repl)).To(MatchError(models.ErrActualLRPCannotBeClaimed))
		Expect(db.RetireEvacuatingActualLRP(ctx, logger, key, old)).To(Succeed())
		Expect(rep.Calls()).To(ConsistOf("POST /v1/lrps/web/instances/i-old/stop"))
		Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/RUNNING", "0/EVACUATING/RUNNING"), "the rep removes the copy")
	})

	It("removes the old copy itself when its cell is gone", func() {
		apiKey, lost := lrpKey("api", 0), instanceKey("i-lost", "cell-without-presence")
		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("api", 1))).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, apiKey, lost)).To(Succeed())
		Expect(db.StartActualLRP(ctx, logger, apiKey, lost, net, true)).To(Succeed())
		image := "docker:///busybox#2"
		Expect(db.UpdateDesiredLRP(ctx, logger, "api", models.DesiredLRPUpdate{RootFS: &image})).To(Succeed())
		Expect(db.RollActualLRP(ctx, logger, apiKey, lost)).To(Succeed())
		Expect(db.RetireEvacuatingActualLRP(ctx, logger, apiKey, lost)).To(Succeed())
		Expect(actualsOf("api")).To(ConsistOf("0/ORDINARY/UNCLAIMED"))
		Expect(rep.Calls()).To(BeEmpty())
	})

	It("forgets the crashes of an older version when the index is claimed for a newer one", func() {
		for i := 0; i < 3; i++ {
			Expect(db.CrashActualLRP(ctx, logger, key, old, "Exited with status 1")).To(Succeed())
			if i < 2 {
				Expect(db.ClaimActualLRP(ctx, logger, key, old)).To(Succeed())
			}
		}
		Expect(actualAt("web", 0, models.PresenceOrdinary).CrashCount).To(Equal(3))
		newImage()
		Expect(db.RestartCrashedActualLRP(ctx, logger, key)).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, key, repl)).To(Succeed())
		rec := actualAt("web", 0, models.PresenceOrdinary)
		Expect(rec.CrashCount).To(BeZero())
		Expect(rec.CrashReason).To(Equal("Exited with status 1"))
	})
})
