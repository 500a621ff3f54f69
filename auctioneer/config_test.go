package auctioneer_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/auctioneer"
)

var _ = Describe("Config", func() {
	It("defaults to DESIGN's numbers", func() {
		cfg := auctioneer.DefaultConfig()
		Expect(cfg.Validate()).To(Succeed())
		Expect(cfg.ListenAddress).To(Equal(":9016"))
		Expect(cfg.LockTTLMs).To(Equal(15000))
		Expect(cfg.CellStateTimeoutMs).To(Equal(10000))
		Expect(cfg.Weights()).To(Equal(auctioneer.Weights{Starting: 0.25, Locality: 1000}))
		Expect(cfg.MaxInflightStarts).To(Equal(0))
	})

	DescribeTable("refusing what cannot work",
		func(change func(*auctioneer.Config), field string) {
			cfg := auctioneer.DefaultConfig()
			change(&cfg)
			Expect(cfg.Validate()).To(MatchError(ContainSubstring(field)))
		},
		Entry("no listen address", func(c *auctioneer.Config) { c.ListenAddress = "" }, "listen_address"),
		Entry("a lock TTL under 2 s", func(c *auctioneer.Config) { c.LockTTLMs = 1500 }, "lock_ttl_ms"),
		Entry("no cell state timeout", func(c *auctioneer.Config) { c.CellStateTimeoutMs = 0 }, "cell_state_timeout_ms"),
		Entry("no retry delay", func(c *auctioneer.Config) { c.RetryDelayMs = -1 }, "retry_delay_ms"),
		Entry("a negative weight", func(c *auctioneer.Config) { c.LocalityWeight = -1 }, "locality_weight"),
		Entry("a negative cap", func(c *auctioneer.Config) { c.MaxInflightStarts = -1 }, "max_inflight_starts"),
		Entry("an unknown log level", func(c *auctioneer.Config) { c.LogLevel = "loud" }, "log_level"),
	)
})
