package lock_test

import (
	"context"
	"errors"
	"os"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/lock"
)

const ttl = 2 * time.Second

var _ = Describe("Runner", func() {
	var (
		endpoint string
		observer *clientv3.Client
		name     string
	)

	newClient := func() *clientv3.Client {
		c, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
		Expect(err).NotTo(HaveOccurred())
		Expect(etcdrunner.WaitReady(c, 10*time.Second)).To(Succeed())
		DeferCleanup(func() { _ = c.Close() })
		return c
	}

	newRunner := func(client *clientv3.Client, value string) *lock.Runner {
		return &lock.Runner{Logger: lagertest.NewTestLogger(value), Client: client, Name: name, Value: value, TTL: ttl}
	}

	holder := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return lock.Holder(ctx, observer, name)
	}

	BeforeEach(func() {
		var runner *etcdrunner.Runner
		runner, endpoint = etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(runner.Stop)
		observer = newClient()
		name = "test-lock"
	})

	It("has no holder before anyone campaigns", func() {
		_, err := holder()
		Expect(err).To(MatchError(lock.ErrNoHolder))
	})

	Context("with one contender", func() {
		It("becomes ready holding the lock, and Holder returns its value", func() {
			p := ifrit.Background(newRunner(newClient(), "http://a:9016"))
			Eventually(p.Ready(), 5*time.Second).Should(BeClosed())
			Expect(holder()).To(Equal("http://a:9016"))

			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
			_, err := holder()
			Expect(err).To(MatchError(lock.ErrNoHolder))

			// It revoked its lease rather than leaving it to expire.
			leases, err := observer.Leases(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(leases.Leases).To(BeEmpty())
		})

		It("gives up campaigning on a signal, leaving nothing behind", func() {
			holderProcess := ifrit.Background(newRunner(newClient(), "http://a:9016"))
			Eventually(holderProcess.Ready(), 5*time.Second).Should(BeClosed())
			waiting := ifrit.Background(newRunner(newClient(), "http://b:9016"))
			Consistently(waiting.Ready(), 300*time.Millisecond).ShouldNot(BeClosed())
			waiting.Signal(os.Interrupt)
			Eventually(waiting.Wait(), 5*time.Second).Should(Receive(BeNil()))

			holderProcess.Signal(os.Interrupt)
			Eventually(holderProcess.Wait(), 5*time.Second).Should(Receive(BeNil()))
			Eventually(func() int {
				leases, err := observer.Leases(context.Background())
				Expect(err).NotTo(HaveOccurred())
				return len(leases.Leases)
			}, 2*time.Second).Should(Equal(0))
		})
	})

	Context("with two contenders", func() {
		var (
			activeClient        *clientv3.Client
			active, standby     ifrit.Process
			activeAt, standbyAt string
		)

		BeforeEach(func() {
			activeAt, standbyAt = "http://active:9016", "http://standby:9016"
			activeClient = newClient()
			active = ifrit.Background(newRunner(activeClient, activeAt))
			Eventually(active.Ready(), 5*time.Second).Should(BeClosed())
			standby = ifrit.Background(newRunner(newClient(), standbyAt))
			DeferCleanup(func() {
				active.Signal(os.Interrupt)
				standby.Signal(os.Interrupt)
				Eventually(standby.Wait(), 5*time.Second).Should(Receive())
			})
		})

		It("keeps the second one waiting", func() {
			Consistently(standby.Ready(), 2*ttl).ShouldNot(BeClosed())
			Expect(holder()).To(Equal(activeAt))
		})

		It("hands over at once when the holder stops cleanly", func() {
			active.Signal(os.Interrupt)
			Eventually(active.Wait(), 5*time.Second).Should(Receive(BeNil()))
			Eventually(standby.Ready(), ttl/2).Should(BeClosed())
			Expect(holder()).To(Equal(standbyAt))
		})

		It("hands over within the TTL when the holder dies without resigning", func() {
			// Closing the client stops the keepalives, as a killed process
			// would: the lease expires on its own.
			killed := time.Now()
			Expect(activeClient.Close()).To(Succeed())

			var err error
			Eventually(active.Wait(), 5*time.Second).Should(Receive(&err))
			Expect(errors.Is(err, lock.ErrLost)).To(BeTrue())

			Eventually(standby.Ready(), ttl+time.Second).Should(BeClosed())
			Expect(time.Since(killed)).To(BeNumerically("<", ttl+time.Second))
			Expect(holder()).To(Equal(standbyAt))
		})
	})
})
