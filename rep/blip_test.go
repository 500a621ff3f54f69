package rep_test

import (
	"context"
	"time"

	"code.cloudfoundry.org/clock/fakeclock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

// Issue 19, item 2: a presence blip must not cost a healthy cell its instances.
var _ = Describe("A cell whose presence lapses and comes back", func() {
	It("keeps its containers through the SUSPECT phase, and its records end ORDINARY RUNNING on it", func() {
		heartbeats := fakeclock.NewFakeClock(time.Now())
		repClock := fakeclock.NewFakeClock(time.Now())
		c := startCell(cellOptions{id: "cell-blip", withProcessor: true, withPresence: true,
			presenceClock: heartbeats, repClock: repClock})
		conv := converger.New(converger.Options{Logger: logger, Clock: fakeclock.NewFakeClock(time.Now()), BBS: db})
		present := func() bool {
			cells, err := db.Cells(context.Background(), logger)
			Expect(err).NotTo(HaveOccurred())
			for _, p := range cells {
				if p.CellID == "cell-blip" {
					return true
				}
			}
			return false
		}
		Eventually(present, 10*time.Second).Should(BeTrue())

		lrp := desireLRP("blip", sh("sleep 300"), nil)
		lrp.Instances = 2
		Expect(db.UpdateDesiredLRP(context.Background(), logger, "blip", models.DesiredLRPUpdate{Instances: &lrp.Instances})).To(Succeed())
		work := lrpWork("blip", 0)
		work.LRPs = append(work.LRPs, lrpWork("blip", 1).LRPs...)
		Expect(c.rep.Perform(logger, work).LRPs).To(BeEmpty())
		for i := 0; i < 2; i++ {
			Eventually(func() string { return state(ordinaryRecord("blip", i)()) }, 30*time.Second).Should(Equal(models.ActualLRPStateRunning))
		}
		guids := map[int]string{0: ordinaryRecord("blip", 0)().InstanceGuid, 1: ordinaryRecord("blip", 1)().InstanceGuid}
		running := func() []string {
			var list []string
			for _, ctr := range c.exec.Containers() {
				if ctr.State == executor.StateRunning {
					list = append(list, ctr.Guid)
				}
			}
			return list
		}
		Expect(running()).To(ConsistOf(guids[0], guids[1]))

		By("holding the heartbeats back past the TTL; the converger marks the instances SUSPECT")
		Eventually(present, 10*time.Second).Should(BeFalse())
		_, err := conv.Pass(context.Background())
		Expect(err).NotTo(HaveOccurred())
		suspects, err := db.ActualLRPs(context.Background(), logger, models.ActualLRPFilter{ProcessGuid: "blip"})
		Expect(err).NotTo(HaveOccurred())
		n := 0
		for _, a := range suspects {
			if a.Presence == models.PresenceSuspect {
				Expect(a.CellID).To(Equal("cell-blip"))
				n++
			}
		}
		Expect(n).To(Equal(2))

		By("harmonising while the records are SUSPECT, the containers past their reservation grace")
		repClock.Increment(2 * time.Minute)
		c.rep.Harmonize(context.Background())
		Expect(running()).To(ConsistOf(guids[0], guids[1]))

		By("releasing the heartbeats: the cell registers again and the converger reverts the suspects")
		heartbeats.Increment(c.cfg.HeartbeatInterval)
		Eventually(present, 10*time.Second).Should(BeTrue())
		_, err = conv.Pass(context.Background())
		Expect(err).NotTo(HaveOccurred())
		c.rep.Harmonize(context.Background())

		for i := 0; i < 2; i++ {
			a := ordinaryRecord("blip", i)()
			Expect(a).NotTo(BeNil())
			Expect(a.State).To(Equal(models.ActualLRPStateRunning))
			Expect(a.CellID).To(Equal("cell-blip"))
			Expect(a.InstanceGuid).To(Equal(guids[i]))
		}
		Consistently(running, 2*time.Second, 200*time.Millisecond).Should(ConsistOf(guids[0], guids[1]))
	})
})
