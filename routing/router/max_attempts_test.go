package router_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

var _ = Describe("The router's max_attempts", func() {
	It("is 0 (no bound beyond tries) by default and refuses a negative value", func() {
		Expect(router.DefaultConfig().MaxAttempts).To(Equal(0))
		config := router.DefaultConfig()
		config.MaxAttempts = -1
		Expect(config.Validate()).To(MatchError(ContainSubstring("max_attempts")))
	})

	// A route of one live and one dead endpoint, with no holdoff so that round
	// robin keeps sending every other request to the dead one.
	DescribeTable("bounds how many endpoints one request may try",
		func(maxAttempts, wantFailed int) {
			r := startRouter(func(c *router.Config) {
				c.MaxAttempts = maxAttempts
				c.FailedEndpointHoldoff = 0
			}, router.Options{})
			host := uniqueHost("attempts")
			live := namedBackend("live")
			nc := natsConn()
			publish(nc, messages.SubjectRegister, endpointFor(live.URL, host))
			publish(nc, messages.SubjectRegister, endpointFor(deadAddress(), host))
			client := newClient()
			Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(2))

			failed := 0
			for range 20 {
				status, body, header := get(client, r.url, host, "/")
				switch status {
				case http.StatusOK:
					Expect(body).To(Equal("live"))
				case http.StatusBadGateway:
					Expect(header.Get(router.HeaderRouterError)).To(Equal("endpoint_failure"))
					failed++
				default:
					Fail("unexpected status " + http.StatusText(status))
				}
			}
			Expect(failed).To(Equal(wantFailed))
			if maxAttempts == 1 {
				Expect(r.accessLog).NotTo(gbytesSay(`tries=2`))
			}
		},
		Entry("0 (default): a refused connection moves on to the live endpoint", 0, 0),
		Entry("1: every request sent to the dead endpoint fails", 1, 10),
		Entry("2: the second attempt reaches the live endpoint", 2, 0),
	)

	It("lets an endpoint withdrawn from the route take no more requests, even at one attempt", func() {
		r := startRouter(func(c *router.Config) { c.MaxAttempts = 1 }, router.Options{})
		host := uniqueHost("withdrawn")
		a, b := namedBackend("a"), namedBackend("b")
		nc := natsConn()
		publish(nc, messages.SubjectRegister, endpointFor(a.URL, host))
		publish(nc, messages.SubjectRegister, endpointFor(b.URL, host))
		Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(2))
		publish(nc, messages.SubjectUnregister, endpointFor(a.URL, host))
		Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(1))
		a.Close()
		client := newClient()
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			status, body, _ := get(client, r.url, host, "/")
			Expect(status).To(Equal(http.StatusOK))
			Expect(body).To(Equal("b"))
		}
	})
})
