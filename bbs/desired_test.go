package bbs_test

import (
	"encoding/json"
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Desired LRPs", func() {
	Describe("DesireLRP", func() {
		It("stores the LRP, creates an UNCLAIMED record per index and auctions them", func() {
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 3))).To(Succeed())

			stored, err := db.DesiredLRPByProcessGuid(ctx, logger, "web")
			Expect(err).NotTo(HaveOccurred())
			Expect(stored.Instances).To(Equal(3))
			Expect(stored.ModificationTag.Epoch).NotTo(BeEmpty())
			Expect(stored.ModificationTag.Index).To(BeZero())

			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED", "1/ORDINARY/UNCLAIMED", "2/ORDINARY/UNCLAIMED"))
			Expect(auctioneer.lrpIndices("web")).To(ConsistOf(0, 1, 2))
			lrp := actualAt("web", 1, models.PresenceOrdinary)
			Expect(lrp.Domain).To(Equal("d"))
			Expect(lrp.Since).To(Equal(clock.Now().UnixNano()))
		})

		It("refuses a second LRP with the same guid", func() {
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 1))).To(Succeed())
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 2))).To(MatchError(models.ErrDesiredLRPAlreadyExists))
			Expect(actualsOf("web")).To(HaveLen(1))
		})

		It("refuses an invalid LRP and stores nothing", func() {
			lrp := newDesiredLRP("", 1)
			Expect(db.DesireLRP(ctx, logger, lrp)).To(MatchError(models.ErrInvalidLRP))
			all, err := db.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(BeEmpty())
		})

		It("creates every index of a large LRP (more records than one transaction holds)", func() {
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("big", 300))).To(Succeed())
			Expect(actualsOf("big")).To(HaveLen(300))
			Expect(auctioneer.lrpIndices("big")).To(HaveLen(300))
		})
	})

	Describe("listing", func() {
		BeforeEach(func() {
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("a", 1))).To(Succeed())
			other := newDesiredLRP("b", 2)
			other.Domain = "other"
			Expect(db.DesireLRP(ctx, logger, other)).To(Succeed())
		})

		It("filters by domain and process guid", func() {
			all, err := db.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(2))
			byDomain, err := db.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{Domain: "other"})
			Expect(err).NotTo(HaveOccurred())
			Expect(byDomain).To(HaveLen(1))
			Expect(byDomain[0].ProcessGuid).To(Equal("b"))
			byGuid, err := db.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{ProcessGuids: []string{"a"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(byGuid).To(HaveLen(1))
			several, err := db.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{ProcessGuids: []string{"b", "missing", "a", "b"}})
			Expect(err).NotTo(HaveOccurred())
			Expect([]string{several[0].ProcessGuid, several[1].ProcessGuid}).To(Equal([]string{"b", "a"}))
			Expect(several).To(HaveLen(2))
			none, err := db.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{ProcessGuids: []string{"missing"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(none).NotTo(BeNil())
			Expect(none).To(BeEmpty())
		})

		It("serves scheduling infos", func() {
			infos, err := db.DesiredLRPSchedulingInfos(ctx, logger, models.DesiredLRPFilter{Domain: "other"})
			Expect(err).NotTo(HaveOccurred())
			Expect(infos).To(HaveLen(1))
			Expect(infos[0].Instances).To(Equal(2))
			Expect(infos[0].RootFS).To(Equal("docker:///busybox#latest"))
			Expect(infos[0].Routes).To(HaveKey(models.CFRouterKey))
		})

		It("answers DesiredLRPNotFound for an unknown guid", func() {
			_, err := db.DesiredLRPByProcessGuid(ctx, logger, "nope")
			Expect(err).To(MatchError(models.ErrDesiredLRPNotFound))
		})
	})

	Describe("UpdateDesiredLRP", func() {
		BeforeEach(func() {
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 2))).To(Succeed())
		})

		It("scales up at once, auctioning only the new indices", func() {
			n := 4
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &n})).To(Succeed())
			Expect(actualsOf("web")).To(HaveLen(4))
			Expect(auctioneer.lrpIndices("web")).To(Equal([]int{0, 1, 2, 3}))
			stored, _ := db.DesiredLRPByProcessGuid(ctx, logger, "web")
			Expect(stored.ModificationTag.Index).To(BeEquivalentTo(1))
		})

		It("scales down at once: unclaimed indices go, running ones are stopped through their rep", func() {
			rep := newFakeRep()
			registerCell("cell-1", rep)
			Expect(db.ClaimActualLRP(ctx, logger, lrpKey("web", 1), instanceKey("i-1", "cell-1"))).To(Succeed())
			Expect(db.StartActualLRP(ctx, logger, lrpKey("web", 1), instanceKey("i-1", "cell-1"), models.ActualLRPNetInfo{Address: "10.0.0.1"}, true)).To(Succeed())
			zero := 0
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &zero})).To(Succeed())

			Expect(actualsOf("web")).To(ConsistOf("1/ORDINARY/RUNNING"))
			Expect(rep.Calls()).To(ConsistOf("POST /v1/lrps/web/instances/i-1/stop"))
		})

		It("removes a running record at once when its cell is gone", func() {
			Expect(db.ClaimActualLRP(ctx, logger, lrpKey("web", 1), instanceKey("i-1", "gone-cell"))).To(Succeed())
			one := 1
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &one})).To(Succeed())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/UNCLAIMED"))
		})

		It("changes routes and annotation without touching instances", func() {
			routes := models.Routes{models.CFRouterKey: json.RawMessage(`[{"hostnames":["b.example.com"],"port":8080}]`)}
			note := "hello"
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Routes: &routes, Annotation: &note})).To(Succeed())
			stored, _ := db.DesiredLRPByProcessGuid(ctx, logger, "web")
			Expect(string(stored.Routes[models.CFRouterKey])).To(ContainSubstring("b.example.com"))
			Expect(stored.Annotation).To(Equal("hello"))
			infos, _ := db.DesiredLRPSchedulingInfos(ctx, logger, models.DesiredLRPFilter{ProcessGuids: []string{"web"}})
			Expect(string(infos[0].Routes[models.CFRouterKey])).To(ContainSubstring("b.example.com"))
			Expect(auctioneer.lrpIndices("web")).To(HaveLen(2))
		})

		It("writes nothing when the update changes nothing", func() {
			two := 2
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &two})).To(Succeed())
			stored, _ := db.DesiredLRPByProcessGuid(ctx, logger, "web")
			Expect(stored.ModificationTag.Index).To(BeZero())
		})

		It("refuses a negative instance count and an unknown guid", func() {
			neg := -1
			Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &neg})).To(MatchError(models.ErrInvalidRequest))
			one := 1
			Expect(db.UpdateDesiredLRP(ctx, logger, "nope", models.DesiredLRPUpdate{Instances: &one})).To(MatchError(models.ErrDesiredLRPNotFound))
		})

		It("keeps records consistent with the final count under 50 concurrent updates", func() {
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func(n int) {
					defer GinkgoRecover()
					defer wg.Done()
					errs <- db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &n})
				}(i%7 + 1)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					Expect(err).To(MatchError(models.ErrResourceConflict))
				}
			}
			stored, err := db.DesiredLRPByProcessGuid(ctx, logger, "web")
			Expect(err).NotTo(HaveOccurred())
			want := []string{}
			for i := 0; i < stored.Instances; i++ {
				want = append(want, fmt.Sprintf("%d/ORDINARY/UNCLAIMED", i))
			}
			Expect(actualsOf("web")).To(ConsistOf(want))
		})
	})

	Describe("RemoveDesiredLRP", func() {
		It("deletes the LRP and retires every instance", func() {
			rep := newFakeRep()
			registerCell("cell-1", rep)
			Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 2))).To(Succeed())
			Expect(db.ClaimActualLRP(ctx, logger, lrpKey("web", 0), instanceKey("i-0", "cell-1"))).To(Succeed())
			Expect(db.RemoveDesiredLRP(ctx, logger, "web")).To(Succeed())

			_, err := db.DesiredLRPByProcessGuid(ctx, logger, "web")
			Expect(err).To(MatchError(models.ErrDesiredLRPNotFound))
			infos, _ := db.DesiredLRPSchedulingInfos(ctx, logger, models.DesiredLRPFilter{})
			Expect(infos).To(BeEmpty())
			Expect(actualsOf("web")).To(ConsistOf("0/ORDINARY/CLAIMED"))
			Expect(rep.Calls()).To(ConsistOf("POST /v1/lrps/web/instances/i-0/stop"))
		})

		It("answers DesiredLRPNotFound for an unknown guid", func() {
			Expect(db.RemoveDesiredLRP(ctx, logger, "nope")).To(MatchError(models.ErrDesiredLRPNotFound))
		})
	})
})
