package converger_test

import (
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/lock"
)

var _ = Describe("Converger leadership", func() {
	const ttl = 2 * time.Second

	// contender is one converger process: its own etcd connection (for the lock,
	// the cell watch and, standing in for its BBS connection, its DB), with the
	// lock first in an ordered group as cmd/converger runs it.
	type contender struct {
		name    string
		client  *clientv3.Client
		process ifrit.Process
	}

	var w *world

	start := func(name string) *contender {
		c, err := newEtcdClient()
		Expect(err).NotTo(HaveOccurred())
		conv := converger.New(converger.Options{Logger: w.logger.Session(name), Clock: clock.NewClock(), BBS: w.newDB(c), Config: fastConfig()})
		members := grouper.Members{
			{Name: "lock", Runner: &lock.Runner{Logger: w.logger.Session(name), Client: c, Name: "converger", Value: name, TTL: ttl}},
			{Name: "cell-watch", Runner: &converger.CellWatch{Logger: w.logger, Clock: clock.NewClock(), Client: c, OnGone: func(string) { conv.Trigger() }}},
			{Name: "converger", Runner: conv},
		}
		p := ifrit.Background(grouper.NewOrdered(os.Interrupt, members))
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive())
			c.Close()
		})
		return &contender{name: name, client: c, process: p}
	}

	holder := func() string {
		h, err := lock.Holder(w.ctx, etcdClient, "converger")
		if err != nil {
			return err.Error()
		}
		return h
	}

	BeforeEach(func() {
		w = newWorld()
		Expect(w.db.UpsertDomain(w.ctx, w.logger, freshDomain, 0)).To(Succeed())
	})

	It("has one active converger, and the standby takes over within the lock TTL when the active dies", func() {
		first := start("first")
		Eventually(first.process.Ready(), 5*time.Second).Should(BeClosed())
		second := start("second")
		Consistently(second.process.Ready(), 500*time.Millisecond).ShouldNot(BeClosed())
		Expect(holder()).To(Equal("first"))

		w.desire("web", freshDomain, 1, nil)
		deleteActual("web", 0)
		Eventually(w.recordsFn("web", 0)).Should(ConsistOf("ORDINARY UNCLAIMED "))

		By("killing the active one: its connection drops, its lease is left to expire")
		Expect(first.client.Close()).To(Succeed())
		killed := time.Now()
		deleteActual("web", 0)

		Eventually(second.process.Ready(), ttl+3*time.Second).Should(BeClosed())
		Eventually(w.recordsFn("web", 0), 2*time.Second).Should(ConsistOf("ORDINARY UNCLAIMED "))
		Expect(time.Since(killed)).To(BeNumerically("<", ttl+3*time.Second))
		Expect(holder()).To(Equal("second"))
		Eventually(first.process.Wait()).Should(Receive())
	})
})
