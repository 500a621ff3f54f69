package router_test

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"code.cloudfoundry.org/clock/fakeclock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	ginkgomon "github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

// privateNATS is a NATS server of one spec's own, on a fixed port, so that
// the spec can stop it and start it again where its clients reconnect.
type privateNATS struct {
	port    int
	url     string
	process ifrit.Process
}

func startPrivateNATS(port int) *privateNATS {
	config := natsrunner.DefaultConfig()
	config.Port = port
	runner := natsrunner.New(lager.NewLogger("private-nats"), config)
	process, err := natsrunner.Start(runner)
	Expect(err).NotTo(HaveOccurred())
	n := &privateNATS{url: runner.ClientURL(), process: process}
	u, err := url.Parse(n.url)
	Expect(err).NotTo(HaveOccurred())
	n.port, err = strconv.Atoi(u.Port())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(n.stop)
	return n
}

func (n *privateNATS) stop() {
	if n.process != nil {
		ginkgomon.Interrupt(n.process, 10*time.Second)
		n.process = nil
	}
}

func (n *privateNATS) restart() {
	n.stop()
	again := startPrivateNATS(n.port)
	n.process, again.process = again.process, nil
}

var _ = Describe("Pruning while the router cannot hear its publishers", func() {
	const (
		threshold = 10 * time.Second
		interval  = 2 * time.Second
	)
	var (
		clock  *fakeclock.FakeClock
		client *http.Client
		bus    *privateNATS
		nc     *nats.Conn
	)

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Now())
		client = newClient()
		bus = startPrivateNATS(0)
		var err error
		nc, err = nats.Connect(bus.url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(nc.Close)
	})

	start := func(silence time.Duration) *testRouter {
		r := startRouter(func(c *router.Config) {
			c.NATSURLs = []string{bus.url}
			c.PruneThreshold = time.Duration(threshold)
			c.PruneInterval = time.Duration(interval)
			c.PublisherSilence = time.Duration(silence)
		}, router.Options{Clock: clock})
		Eventually(clock.WatcherCount).Should(BeNumerically(">=", 2))
		return r
	}
	suspended := func(r *testRouter) func() float64 {
		return func() float64 { return metricValue(r.Router, "diego_router_pruning_suspended") }
	}

	It("keeps routing while NATS is stopped for several thresholds, and prunes again once NATS is back and the route is not refreshed", func() {
		r := start(0) // only the NATS rule
		host := uniqueHost("nats-outage")
		publish(nc, messages.SubjectRegister, endpointFor(namedBackend("survivor").URL, host))
		Eventually(bodyOf(client, r.url, host)).Should(Equal("200 survivor"))

		bus.stop()
		Eventually(func() float64 { return metricValue(r.Router, "diego_router_nats_connected") }).Should(Equal(0.0))
		for i := 0; i < 5; i++ { // 5 thresholds without NATS
			clock.Increment(threshold)
			Consistently(bodyOf(client, r.url, host), 300*time.Millisecond).Should(Equal("200 survivor"))
		}
		Eventually(suspended(r)).Should(Equal(1.0))

		bus.restart()
		Eventually(func() float64 { return metricValue(r.Router, "diego_router_nats_connected") }).Should(Equal(1.0))
		clock.Increment(interval / 2) // within the grace after reconnecting
		Consistently(bodyOf(client, r.url, host), 300*time.Millisecond).Should(Equal("200 survivor"))

		clock.Increment(interval) // nobody refreshed the route
		Eventually(bodyOf(client, r.url, host)).Should(HavePrefix("404 "))
		Expect(suspended(r)()).To(Equal(0.0))
		Expect(metricValue(r.Router, "diego_router_endpoints_pruned_total")).To(Equal(1.0))
	})

	It("asks publishers to re-register when NATS comes back", func() {
		start(0)
		bus.stop()
		bus.restart()
		starts, err := nc.SubscribeSync(messages.SubjectStart)
		Expect(err).NotTo(HaveOccurred())
		Expect(nc.Flush()).To(Succeed())
		// The router's start message comes on reconnect, not only on its
		// 20 s ticker (which the fake clock holds still).
		_, err = starts.NextMsg(5 * time.Second)
		Expect(err).NotTo(HaveOccurred())
	})

	It("keeps every endpoint while all registrations stop at once, and prunes the unrefreshed ones after they resume", func() {
		r := start(4 * time.Second)
		host := uniqueHost("silence")
		gone := endpointFor(namedBackend("gone").URL, host)
		kept := endpointFor(namedBackend("kept").URL, host)
		publish(nc, messages.SubjectRegister, gone)
		publish(nc, messages.SubjectRegister, kept)
		Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(2))

		for i := 0; i < 3; i++ { // the emitter is away for 3 thresholds
			clock.Increment(threshold)
			Consistently(func() int { return r.Table().Lookup(host).Len() }, 300*time.Millisecond).Should(Equal(2))
		}
		Eventually(suspended(r)).Should(Equal(1.0))

		publish(nc, messages.SubjectRegister, kept) // a new emitter publishes its table
		Eventually(func() float64 {
			return metricValue(r.Router, "diego_router_registrations_total", "result", "refreshed")
		}).Should(Equal(1.0))
		clock.Increment(interval / 2)
		Consistently(func() int { return r.Table().Lookup(host).Len() }, 300*time.Millisecond).Should(Equal(2))

		clock.Increment(interval)
		Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(1))
		for i := 0; i < 4; i++ {
			Expect(bodyOf(client, r.url, host)()).To(Equal("200 kept"))
		}
	})
})
