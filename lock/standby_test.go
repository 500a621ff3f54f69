package lock_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/lock"
)

// tenures is an Active runner that counts how often it was started and how
// many of its runs are going on now.
type tenures struct {
	started, running atomic.Int32
	fail             error // returned at once by the next run, if set
}

func (t *tenures) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	t.started.Add(1)
	if t.fail != nil {
		return t.fail
	}
	t.running.Add(1)
	defer t.running.Add(-1)
	close(ready)
	<-signals
	return nil
}

var _ = Describe("Standby", func() {
	var (
		etcd     *etcdrunner.Runner
		endpoint string
	)

	BeforeEach(func() {
		etcd, endpoint = etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(etcd.Stop)
	})

	start := func(value string, active ifrit.Runner) ifrit.Process {
		client, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = client.Close() })
		p := ifrit.Background(&lock.Standby{
			Lock:   lock.Runner{Logger: lagertest.NewTestLogger(value), Client: client, Name: "standby-test", Value: value, TTL: ttl},
			Active: active,
		})
		DeferCleanup(func() { p.Signal(os.Interrupt); Eventually(p.Wait(), 10*time.Second).Should(Receive()) })
		return p
	}

	It("steps down when etcd is away for longer than the TTL, keeps running, and takes the lock again when etcd is back", func() {
		active := &tenures{}
		p := start("http://a", active)
		Eventually(active.running.Load, 5*time.Second).Should(BeEquivalentTo(1))

		etcd.Stop()
		Eventually(active.running.Load, 3*ttl).Should(BeEquivalentTo(0), "stepped down")
		Consistently(p.Wait(), ttl).ShouldNot(Receive(), "the process keeps running")

		Expect(etcd.Start()).To(Succeed())
		Eventually(active.running.Load, 5*ttl).Should(BeEquivalentTo(1), "active again")
		Expect(active.started.Load()).To(BeEquivalentTo(2))
		observer, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
		Expect(err).NotTo(HaveOccurred())
		defer observer.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		Expect(lock.Holder(ctx, observer, "standby-test")).To(Equal("http://a"))
	})

	It("runs only one active at a time and hands over at once on a signal", func() {
		first, second := &tenures{}, &tenures{}
		p1 := start("http://first", first)
		Eventually(first.running.Load, 5*time.Second).Should(BeEquivalentTo(1))
		start("http://second", second)
		Consistently(second.started.Load, ttl).Should(BeEquivalentTo(0))

		p1.Signal(os.Interrupt)
		Eventually(p1.Wait(), 5*time.Second).Should(Receive(BeNil()))
		Expect(first.running.Load()).To(BeEquivalentTo(0))
		Eventually(second.running.Load, ttl).Should(BeEquivalentTo(1))
	})

	It("releases the lock and ends with the error of an active runner that fails", func() {
		boom := errors.New("boom")
		p := start("http://failing", &tenures{fail: boom})
		var err error
		Eventually(p.Wait(), 5*time.Second).Should(Receive(&err))
		Expect(err).To(MatchError(boom))
	})
})
