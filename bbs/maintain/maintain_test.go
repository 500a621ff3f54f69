package maintain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/maintain/spacecheck"
	"github.com/diego-runtime/diego/models"
)

const mib = 1 << 20

// fillUntilNoSpace writes 256 KiB values to fresh keys with a raw etcd
// client until etcd refuses one for lack of space; it returns the keys.
func fillUntilNoSpace(c *clientv3.Client) []string {
	value := strings.Repeat("x", 256*1024)
	var keys []string
	for i := 0; i < 1000; i++ {
		key := fmt.Sprintf("/junk/%04d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Put(ctx, key, value)
		cancel()
		if errors.Is(err, rpctypes.ErrNoSpace) {
			return keys
		}
		Expect(err).NotTo(HaveOccurred())
		keys = append(keys, key)
	}
	Fail("etcd took 250 MiB of junk without raising NOSPACE")
	return nil
}

var _ = Describe("Keeping etcd within its space quota", func() {
	It("a route-update loop of 120 KiB routes, three times the quota in all, never fills etcd: every update goes through, history is compacted and the database stays under its quota", func() {
		const quota = 32 * mib
		w := startWorld(worldOptions{quota: quota, interval: 100 * time.Millisecond, keepRevisions: 1000})
		w.desire("flood")
		ctx := context.Background()
		first, err := w.etcdClient.Get(ctx, "/diego/")
		Expect(err).NotTo(HaveOccurred())

		res, err := spacecheck.Loop{
			Update:        spacecheck.BBSUpdate(w.bbs, w.logger, "flood"),
			Health:        w.bbs.StoreHealth,
			Updates:       400,
			RecoverWithin: 30 * time.Second,
			Logger:        w.logger,
		}.Run(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Updates).To(Equal(400))
		GinkgoWriter.Printf("loop: %d failed tries (first: %v), longest stall %s, largest db %d of quota %d, NOSPACE seen %d times\n",
			res.FailedTries, res.FirstError, res.LongestStall, res.MaxDBSizeBytes, res.QuotaBytes, res.AlarmsSeen)
		Expect(res.QuotaBytes).To(BeEquivalentTo(quota))
		Expect(res.MaxDBSizeBytes).To(BeNumerically("<", quota))

		lrp, err := w.bbs.DesiredLRPByProcessGuid(ctx, w.logger, "flood")
		Expect(err).NotTo(HaveOccurred())
		Expect(lrp.Routes).To(Equal(spacecheck.Routes(399, spacecheck.DefaultRouteBytes)))
		Expect(w.health().Writable).To(BeTrue())
		Expect(w.metric(`diego_bbs_etcd_compactions_total`)).To(BeNumerically(">", 0))
		Expect(w.metric(`diego_bbs_etcd_alarm{alarm="NOSPACE"}`)).To(Equal(0.0))

		// The history of the first updates is gone.
		_, err = w.etcdClient.Get(ctx, "/diego/", clientv3.WithRev(first.Header.Revision))
		Expect(err).To(MatchError(rpctypes.ErrCompacted))
	})

	It("a route-update loop through the receptor's public API keeps writing too, reading the store's health from GET /v1/health", func() {
		const quota = 24 * mib
		w := startWorld(worldOptions{quota: quota, interval: 100 * time.Millisecond})
		w.desire("public-flood")
		public := spacecheck.Receptor{URL: w.receptorURL}
		res, err := spacecheck.Loop{
			Update:        public.Update("public-flood"),
			Health:        public.Health,
			Updates:       200,
			RecoverWithin: 30 * time.Second,
			Logger:        w.logger,
		}.Run(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Updates).To(Equal(200))
		Expect(res.QuotaBytes).To(BeEquivalentTo(quota))
		Expect(res.MaxDBSizeBytes).To(BeNumerically("<", quota))
		Expect(w.metric(`diego_bbs_etcd_compactions_total`)).To(BeNumerically(">", 0))

		// A refusal comes back typed.
		err = public.Update("no-such-app")(context.Background(), spacecheck.Routes(0, 1024))
		Expect(err).To(MatchError(models.ErrDesiredLRPNotFound))
	})

	It("reports NOSPACE on /metrics and the API when etcd fills, then compacts, defragments and disarms it once space is freed, and writes go through again", func() {
		w := startWorld(worldOptions{quota: 16 * mib, interval: 200 * time.Millisecond})
		w.desire("web")
		ctx := context.Background()

		junk := fillUntilNoSpace(w.etcdClient)
		Eventually(func() float64 { return w.metric(`diego_bbs_etcd_alarm{alarm="NOSPACE"}`) }, 10*time.Second).Should(Equal(1.0))
		h := w.health()
		Expect(h.Alarms).To(Equal([]string{models.AlarmNoSpace}))
		Expect(h.Writable).To(BeFalse())
		Expect(h.QuotaBytes).To(BeEquivalentTo(16 * mib))
		public := w.publicHealth()
		Expect(public.Alarms).To(Equal([]string{models.AlarmNoSpace}))
		Expect(public.Writable).To(BeFalse())
		routes := spacecheck.Routes(1, 1024)
		err := w.bbs.UpdateDesiredLRP(ctx, w.logger, "web", models.DesiredLRPUpdate{Routes: &routes})
		Expect(err).To(MatchError(models.ErrServiceUnavailable))
		Expect(err.Error()).To(ContainSubstring("NOSPACE"))
		// Live data over the quota is not the maintainer's to free: the alarm stays.
		Consistently(func() []string { return w.health().Alarms }, time.Second, 200*time.Millisecond).Should(Equal([]string{models.AlarmNoSpace}))

		// Deletes are allowed under NOSPACE: whoever wrote the junk removes it.
		_, err = w.etcdClient.Delete(ctx, "/junk/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(junk).NotTo(BeEmpty())

		Eventually(func() bool { return w.health().Writable }, 20*time.Second, 200*time.Millisecond).Should(BeTrue())
		Expect(w.publicHealth()).To(And(HaveField("Writable", true), HaveField("Alarms", BeEmpty())))
		Expect(w.metric(`diego_bbs_etcd_alarm{alarm="NOSPACE"}`)).To(Equal(0.0))
		Expect(w.metric(`diego_bbs_etcd_alarms_disarmed_total`)).To(BeNumerically(">=", 1))
		Expect(w.metric(`diego_bbs_etcd_defragmentations_total`)).To(BeNumerically(">=", 1))
		Expect(w.metric(`diego_bbs_etcd_compactions_total`)).To(BeNumerically(">=", 1))
		Expect(w.health().DBSizeBytes).To(BeNumerically("<", 8*mib))
		Expect(w.bbs.UpdateDesiredLRP(ctx, w.logger, "web", models.DesiredLRPUpdate{Routes: &routes})).To(Succeed())
	})

	It("recovers from NOSPACE when nobody can take the maintenance lock (a lease grant is a write)", func() {
		var junk []string
		w := startWorld(worldOptions{quota: 16 * mib, interval: 200 * time.Millisecond, lockless: true, beforeBBS: func(c *clientv3.Client) {
			junk = fillUntilNoSpace(c)
			_, err := c.Delete(context.Background(), "/junk/", clientv3.WithPrefix())
			Expect(err).NotTo(HaveOccurred())
		}})
		Expect(junk).NotTo(BeEmpty())
		Eventually(func() bool { return w.health().Writable }, 20*time.Second, 200*time.Millisecond).Should(BeTrue())
		Expect(w.metric(`diego_bbs_etcd_alarms_disarmed_total`)).To(BeNumerically(">=", 1))
		w.desire("web")
	})
})
