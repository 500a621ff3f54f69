package router_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	diegoconfig "github.com/diego-runtime/diego/internal/config"

	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

var _ = Describe("Table", func() {
	var (
		table *router.Table
		now   time.Time
	)
	msg := func(port uint16, updatedAt int64) messages.RegistryMessage {
		return messages.RegistryMessage{Host: "10.0.0.1", Port: port, URIs: []string{"a.example.com"},
			EndpointUpdatedAtNs: updatedAt}
	}

	BeforeEach(func() {
		table = router.NewTable(120 * time.Second)
		now = time.Unix(1000, 0)
	})

	DescribeTable("applying a message to an endpoint registered at endpoint_updated_at_ns 100",
		func(unregister bool, updatedAt int64, want router.Change, remaining int) {
			Expect(table.Register("a.example.com", msg(8080, 100), now)).To(Equal(router.Added))
			var got router.Change
			if unregister {
				got = table.Unregister("a.example.com", msg(8080, updatedAt))
			} else {
				got = table.Register("a.example.com", msg(8080, updatedAt), now)
			}
			Expect(got).To(Equal(want))
			Expect(table.Lookup("a.example.com").Len()).To(Equal(remaining))
		},
		Entry("a newer register refreshes", false, int64(200), router.Refreshed, 1),
		Entry("an unordered register refreshes", false, int64(0), router.Refreshed, 1),
		Entry("an older register is stale", false, int64(50), router.Unchanged, 1),
		Entry("a newer unregister removes", true, int64(200), router.Removed, 0),
		Entry("an unordered unregister removes", true, int64(0), router.Removed, 0),
		Entry("an older unregister is ignored", true, int64(50), router.Unchanged, 1),
	)

	It("counts hosts and endpoints and drops a host with its last endpoint", func() {
		table.Register("a.example.com", msg(1, 0), now)
		table.Register("a.example.com", msg(2, 0), now)
		table.Register("b.example.com", msg(1, 0), now)
		hosts, endpoints := table.Size()
		Expect([]int{hosts, endpoints}).To(Equal([]int{2, 3}))

		Expect(table.Unregister("b.example.com", msg(1, 0))).To(Equal(router.Removed))
		Expect(table.Unregister("b.example.com", msg(1, 0))).To(Equal(router.Unchanged))
		Expect(table.Lookup("b.example.com")).To(BeNil())
		hosts, endpoints = table.Size()
		Expect([]int{hosts, endpoints}).To(Equal([]int{1, 2}))
	})

	It("prunes by age, using a message's shorter stale threshold", func() {
		short := msg(1, 0)
		short.StaleThresholdInSeconds = 10
		long := msg(2, 0)
		long.StaleThresholdInSeconds = 500 // longer than the table's: ignored
		table.Register("a.example.com", short, now)
		table.Register("a.example.com", long, now)
		table.Register("a.example.com", msg(3, 0), now)

		Expect(table.Prune(now.Add(10 * time.Second))).To(Equal(0))
		Expect(table.Prune(now.Add(11 * time.Second))).To(Equal(1))
		Expect(table.Prune(now.Add(120 * time.Second))).To(Equal(0))
		Expect(table.Prune(now.Add(121 * time.Second))).To(Equal(2))
		Expect(table.Lookup("a.example.com")).To(BeNil())
	})
})

var _ = Describe("Config", func() {
	It("reads durations as Go duration strings and keeps defaults for the rest", func() {
		config := router.DefaultConfig()
		Expect(diegoconfig.Decode([]byte(`{"dial_timeout": "250ms", "prune_threshold": "1m", "tries": 5}`), &config)).To(Succeed())
		Expect(config.DialTimeout).To(Equal(250 * time.Millisecond))
		Expect(config.PruneThreshold).To(Equal(time.Minute))
		Expect(config.Tries).To(Equal(5))
		Expect(config.FailedEndpointHoldoff).To(Equal(router.DefaultFailedEndpointHoldoff))
		Expect(config.Validate()).To(Succeed())
		Expect(config.PublisherSilence).To(Equal(40 * time.Second))
	})

	It("refuses a bad duration string, and nanoseconds", func() {
		config := router.DefaultConfig()
		Expect(diegoconfig.Decode([]byte(`{"dial_timeout": "soon"}`), &config)).To(MatchError(ContainSubstring(`"soon"`)))
		Expect(diegoconfig.Decode([]byte(`{"dial_timeout": 500000000}`), &config)).To(MatchError(ContainSubstring("dial_timeout: a duration is a string")))
	})

	DescribeTable("Validate",
		func(mutate func(*router.Config), problem string) {
			config := router.DefaultConfig()
			mutate(&config)
			Expect(config.Validate()).To(MatchError(ContainSubstring(problem)))
		},
		Entry("no listen address", func(c *router.Config) { c.ListenAddress = "" }, "listen_address"),
		Entry("no NATS", func(c *router.Config) { c.NATSURLs = nil }, "nats_urls"),
		Entry("zero dial timeout", func(c *router.Config) { c.DialTimeout = 0 }, "dial_timeout"),
		Entry("zero prune interval", func(c *router.Config) { c.PruneInterval = 0 }, "prune_interval"),
		Entry("no tries", func(c *router.Config) { c.Tries = 0 }, "tries"),
		Entry("negative holdoff", func(c *router.Config) { c.FailedEndpointHoldoff = -1 }, "failed_endpoint_holdoff"),
		Entry("a publisher silence the prune threshold runs out before", func(c *router.Config) {
			c.PruneThreshold = time.Duration(30 * time.Second)
		}, "publisher_silence"),
		Entry("a negative publisher silence", func(c *router.Config) { c.PublisherSilence = -1 }, "publisher_silence"),
	)
})
