package converger_test

import (
	"net/http/httptest"
	"os"
	"strconv"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("A roll through the BBS", func() {
	It("starts at once on a change of image, replaces one index at a time, and retires each old instance once its replacement serves", func() {
		w := newWorld()
		w.register("cell-1", 60)
		w.desire("web", freshDomain, 3, nil)
		for i := 0; i < 3; i++ {
			w.run("web", i, "cell-1")
		}

		By("running a converger whose interval is too long to matter: only the desired watch and the roll interval start passes")
		srv := httptest.NewServer(server.New(w.logger.Session("bbs-server"), w.db, server.Options{}))
		DeferCleanup(srv.Close)
		c := converger.New(converger.Options{Logger: w.logger, Clock: clock.NewClock(), BBS: client.NewClient(nil, srv.URL),
			Config: converger.Config{Interval: time.Hour, RollInterval: 100 * time.Millisecond}})
		process := ifrit.Invoke(grouper.NewOrdered(os.Interrupt, grouper.Members{
			{Name: "desired-watch", Runner: converger.NewDesiredWatch(w.logger, clock.NewClock(), etcdClient, c.Trigger)},
			{Name: "converger", Runner: c},
		}))
		DeferCleanup(func() {
			process.Signal(os.Interrupt)
			Eventually(process.Wait(), 10*time.Second).Should(Receive())
		})
		Consistently(w.recordsFn("web", 0), 500*time.Millisecond).Should(ConsistOf("ORDINARY RUNNING cell-1"))

		image := "docker:///library/busybox#2"
		Expect(w.db.UpdateDesiredLRP(w.ctx, w.logger, "web", models.DesiredLRPUpdate{RootFS: &image})).To(Succeed())
		for i := 0; i < 3; i++ {
			By("rolling index " + strconv.Itoa(i))
			Eventually(w.recordsFn("web", i), 5*time.Second).Should(ConsistOf("EVACUATING RUNNING cell-1", "ORDINARY UNCLAIMED "))
			for j := i + 1; j < 3; j++ {
				Expect(w.records("web", j)).To(ConsistOf("ORDINARY RUNNING cell-1"), "max_surge 1: one index at a time")
			}
			Expect(w.reps.stops()).To(HaveLen(i), "the old instance serves until its replacement does")

			key := models.ActualLRPKey{ProcessGuid: "web", Index: i, Domain: freshDomain}
			repl := models.ActualLRPInstanceKey{InstanceGuid: "new-" + strconv.Itoa(i), CellID: "cell-1"}
			Expect(w.db.ClaimActualLRP(w.ctx, w.logger, key, repl)).To(Succeed())
			Expect(w.db.StartActualLRP(w.ctx, w.logger, key, repl, models.ActualLRPNetInfo{Address: "10.0.0.2"}, true)).To(Succeed())
			Eventually(w.reps.stops, 5*time.Second).Should(ContainElement(key))

			By("the old instance's rep withdrawing its copy, as rep.StopLRPInstance does")
			Expect(w.db.RemoveEvacuatingActualLRP(w.ctx, w.logger, key, instanceOf("web", i, "cell-1"))).To(Succeed())
		}
		d, err := w.db.DesiredLRPByProcessGuid(w.ctx, w.logger, "web")
		Expect(err).NotTo(HaveOccurred())
		records, err := w.db.ActualLRPs(w.ctx, w.logger, models.ActualLRPFilter{ProcessGuid: "web"})
		Expect(err).NotTo(HaveOccurred())
		info := d.SchedulingInfo()
		Expect(models.RollProgress(&info, records)).To(Equal(models.RollStatus{State: models.RollStateDone, Updated: 3, Total: 3}))
	})
})
