package router_test

import (
	"encoding/json"
	"net"
	"net/http"
	"time"

	"code.cloudfoundry.org/clock/fakeclock"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

var _ = Describe("Router routes from NATS", func() {
	var (
		nc     *nats.Conn
		client *http.Client
	)

	BeforeEach(func() {
		nc = natsConn()
		client = newClient()
	})

	Context("with a running router", func() {
		var r *testRouter

		BeforeEach(func() { r = startRouter(nil, router.Options{}) })

		It("routes a registered host and stops after an unregister", func() {
			host := uniqueHost("app")
			backend := namedBackend("backend-a")
			publish(nc, messages.SubjectRegister, endpointFor(backend.URL, host))
			Eventually(bodyOf(client, r.url, host)).Should(Equal("200 backend-a"))

			publish(nc, messages.SubjectUnregister, endpointFor(backend.URL, host))
			Eventually(bodyOf(client, r.url, host)).Should(HavePrefix("404 "))
			Expect(metricValue(r.Router, "diego_router_unregistrations_total")).To(Equal(1.0))
		})

		It("routes every URI of a message, ignoring case and any port in the Host header", func() {
			one, two := uniqueHost("one"), uniqueHost("two")
			backend := namedBackend("multi")
			publish(nc, messages.SubjectRegister, endpointFor(backend.URL, one, "UPPER-"+two))
			Eventually(bodyOf(client, r.url, one)).Should(Equal("200 multi"))
			Expect(bodyOf(client, r.url, one+":8080")()).To(Equal("200 multi"))
			Expect(bodyOf(client, r.url, "upper-"+two)()).To(Equal("200 multi"))
			Expect(bodyOf(client, r.url, "Upper-"+two+":443")()).To(Equal("200 multi"))
		})

		It("answers an unknown host with 404 naming the host", func() {
			status, body, header := get(client, r.url, "nowhere.example.com:8080", "/x")
			Expect(status).To(Equal(http.StatusNotFound))
			Expect(body).To(ContainSubstring(`"nowhere.example.com"`))
			Expect(header.Get(router.HeaderRouterError)).To(Equal("unknown_route"))
			Expect(metricValue(r.Router, "diego_router_requests_total", "route", "_unknown", "status_class", "4xx")).To(Equal(1.0))
		})

		It("spreads requests evenly over endpoints, round robin", func() {
			host := uniqueHost("rr")
			names := []string{"b0", "b1", "b2", "b3"}
			for _, n := range names {
				publish(nc, messages.SubjectRegister, endpointFor(namedBackend(n).URL, host))
			}
			Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(4))

			counts := map[string]int{}
			for i := 0; i < 400; i++ {
				status, body, _ := get(client, r.url, host, "/")
				Expect(status).To(Equal(http.StatusOK))
				counts[body]++
			}
			Expect(counts).To(Equal(map[string]int{"b0": 100, "b1": 100, "b2": 100, "b3": 100}))
		})

		It("counts malformed messages, ignores them and keeps routing", func() {
			host := uniqueHost("after-junk")
			publish(nc, messages.SubjectRegister, "this is not json")
			publish(nc, messages.SubjectUnregister, `{"host": "10.0.0.1", "port": `)
			publish(nc, messages.SubjectRegister, `["an", "array"]`)
			publish(nc, messages.SubjectRegister, endpointFor(namedBackend("fine").URL, host))
			Eventually(bodyOf(client, r.url, host)).Should(Equal("200 fine"))
			Expect(metricValue(r.Router, "diego_router_nats_messages_malformed_total")).To(Equal(3.0))
		})

		DescribeTable("ignores registrations that cannot name an endpoint",
			func(mutate func(*messages.RegistryMessage), reason string) {
				host := uniqueHost("ignored")
				m := endpointFor(namedBackend("never").URL, host)
				mutate(&m)
				publish(nc, messages.SubjectRegister, m)
				Eventually(func() float64 {
					return metricValue(r.Router, "diego_router_nats_messages_ignored_total", "reason", reason)
				}).Should(Equal(1.0))
				status, _, _ := get(client, r.url, host, "/")
				Expect(status).To(Equal(http.StatusNotFound))
			},
			Entry("port 0", func(m *messages.RegistryMessage) { m.Port = 0 }, "invalid_port"),
			Entry("missing host", func(m *messages.RegistryMessage) { m.Host = "" }, "invalid_host"),
			Entry("a path route", func(m *messages.RegistryMessage) { m.URIs[0] += "/api" }, "path_route"),
		)

		It("ignores an unregister older than the registration it would remove", func() {
			host := uniqueHost("ordered")
			m := endpointFor(namedBackend("kept").URL, host)
			m.EndpointUpdatedAtNs = 2000
			publish(nc, messages.SubjectRegister, m)
			Eventually(bodyOf(client, r.url, host)).Should(Equal("200 kept"))

			m.EndpointUpdatedAtNs = 1000
			publish(nc, messages.SubjectUnregister, m)
			Eventually(func() float64 {
				return metricValue(r.Router, "diego_router_nats_messages_total", "subject", messages.SubjectUnregister)
			}).Should(Equal(1.0))
			Expect(bodyOf(client, r.url, host)()).To(Equal("200 kept"))
		})

		It("answers router.greet with its start message", func() {
			reply, err := nc.Request(messages.SubjectGreet, nil, 2*time.Second)
			Expect(err).NotTo(HaveOccurred())
			var start messages.RouterStart
			Expect(json.Unmarshal(reply.Data, &start)).To(Succeed())
			Expect(start).To(Equal(r.StartMessage()))
			Expect(start.ID).NotTo(BeEmpty())
			Expect(start.MinimumRegisterIntervalInSeconds).To(Equal(20))
			Expect(start.PruneThresholdInSeconds).To(Equal(120))
		})
	})

	It("publishes router.start on startup with its id, hosts and intervals", func() {
		starts, err := nc.SubscribeSync(messages.SubjectStart)
		Expect(err).NotTo(HaveOccurred())
		Expect(nc.Flush()).To(Succeed())

		r := startRouter(func(c *router.Config) {
			c.ID = "router-under-test"
			c.Hosts = []string{"10.1.2.3"}
			c.RegisterInterval = time.Duration(15 * time.Second)
			c.PruneThreshold = time.Duration(90 * time.Second)
		}, router.Options{})

		Eventually(func() messages.RouterStart {
			msg, err := starts.NextMsg(100 * time.Millisecond)
			if err != nil {
				return messages.RouterStart{}
			}
			var start messages.RouterStart
			Expect(json.Unmarshal(msg.Data, &start)).To(Succeed())
			return start
		}).Should(Equal(messages.RouterStart{ID: "router-under-test", Hosts: []string{"10.1.2.3"},
			MinimumRegisterIntervalInSeconds: 15, PruneThresholdInSeconds: 90}))
		Expect(r.StartMessage().ID).To(Equal("router-under-test"))
	})

	Context("on a fake clock", func() {
		var (
			clock *fakeclock.FakeClock
			r     *testRouter
		)

		BeforeEach(func() {
			clock = fakeclock.NewFakeClock(time.Now())
			r = startRouter(func(c *router.Config) {
				c.PruneThreshold = time.Duration(120 * time.Second)
				c.PruneInterval = time.Duration(10 * time.Second)
				// Plain per-endpoint pruning; pruning held back while every
				// publisher is silent has its own specs (outage_test.go).
				c.PublisherSilence = 0
			}, router.Options{Clock: clock})
			// The prune and start tickers exist once Run is under way.
			Eventually(clock.WatcherCount).Should(BeNumerically(">=", 2))
		})

		It("prunes an endpoint not refreshed within the threshold and keeps a refreshed one", func() {
			host := uniqueHost("prune")
			stale := endpointFor(namedBackend("stale").URL, host)
			fresh := endpointFor(namedBackend("fresh").URL, host)
			publish(nc, messages.SubjectRegister, stale)
			publish(nc, messages.SubjectRegister, fresh)
			Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(2))

			clock.Increment(100 * time.Second)
			publish(nc, messages.SubjectRegister, fresh) // refreshed at t=100s
			Eventually(func() float64 {
				return metricValue(r.Router, "diego_router_registrations_total", "result", "refreshed")
			}).Should(Equal(1.0))

			clock.Increment(30 * time.Second) // t=130s: stale is 130s old, fresh 30s
			Eventually(func() float64 { return metricValue(r.Router, "diego_router_endpoints_pruned_total") }).Should(Equal(1.0))
			for i := 0; i < 4; i++ {
				Expect(bodyOf(client, r.url, host)()).To(Equal("200 fresh"))
			}

			clock.Increment(120 * time.Second)
			Eventually(bodyOf(client, r.url, host)).Should(HavePrefix("404 "))
		})

		It("keeps a failed endpoint out for the holdoff, then tries it again", func() {
			host := uniqueHost("holdoff")
			resetter, resets := resettingBackend()
			publish(nc, messages.SubjectRegister, endpointFor(resetter, host))
			publish(nc, messages.SubjectRegister, endpointFor(namedBackend("healthy").URL, host))
			Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(2))

			for i := 0; i < 10; i++ {
				Expect(bodyOf(client, r.url, host)()).To(Equal("200 healthy"))
			}
			Expect(resets.Load()).To(Equal(int64(1)))

			clock.Increment(router.DefaultFailedEndpointHoldoff + time.Second)
			for i := 0; i < 10; i++ {
				Expect(bodyOf(client, r.url, host)()).To(Equal("200 healthy"))
			}
			Expect(resets.Load()).To(Equal(int64(2)))
		})

		It("still tries a held-off endpoint when it is the only one", func() {
			host := uniqueHost("only-one")
			addr := deadAddress()
			publish(nc, messages.SubjectRegister, endpointFor(addr, host))
			Eventually(bodyOf(client, r.url, host)).Should(HavePrefix("502 "))

			l, err := net.Listen("tcp", addr)
			Expect(err).NotTo(HaveOccurred())
			revived := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte("revived"))
			})}
			go revived.Serve(l)
			DeferCleanup(revived.Close)
			Expect(bodyOf(client, r.url, host)()).To(Equal("200 revived"))
		})

		It("honours a shorter stale_threshold_in_seconds from the message", func() {
			host := uniqueHost("short")
			m := endpointFor(namedBackend("short-lived").URL, host)
			m.StaleThresholdInSeconds = 30
			publish(nc, messages.SubjectRegister, m)
			Eventually(bodyOf(client, r.url, host)).Should(Equal("200 short-lived"))

			clock.Increment(41 * time.Second)
			Eventually(bodyOf(client, r.url, host)).Should(HavePrefix("404 "))
		})
	})
})
