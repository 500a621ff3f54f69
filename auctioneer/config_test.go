package auctioneer_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/auctioneer"
)

var _ = Describe("Config", func() {
	It("defaults to DESIGN's numbers", func() {
		cfg := auctioneer.DefaultConfig()
		Expect(cfg.Validate()).To(Succeed())
		Expect(cfg.ListenAddress).To(Equal(":9016"))
		Expect(cfg.LockTTL).To(Equal(15 * time.Second))
		Expect(cfg.CellStateTimeout).To(Equal(10 * time.Second))
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
		Entry("a lock TTL under 2 s", func(c *auctioneer.Config) { c.LockTTL = 1500 * time.Millisecond }, "lock_ttl must be at least 2s"),
		Entry("no cell state timeout", func(c *auctioneer.Config) { c.CellStateTimeout = 0 }, "cell_state_timeout must be positive"),
		Entry("no retry delay", func(c *auctioneer.Config) { c.RetryDelay = -1 }, "retry_delay must be positive"),
		Entry("a negative weight", func(c *auctioneer.Config) { c.LocalityWeight = -1 }, "locality_weight"),
		Entry("a negative cap", func(c *auctioneer.Config) { c.MaxInflightStarts = -1 }, "max_inflight_starts"),
		Entry("an unknown log level", func(c *auctioneer.Config) { c.LogLevel = "loud" }, "log_level"),
	)

	It("reports every mistake at once", func() {
		cfg := auctioneer.DefaultConfig()
		cfg.ListenAddress, cfg.RetryDelay, cfg.LogLevel = "", 0, "loud"
		err := cfg.Validate()
		Expect(err).To(MatchError(ContainSubstring("listen_address is required")))
		Expect(err).To(MatchError(ContainSubstring("retry_delay must be positive")))
		Expect(err).To(MatchError(ContainSubstring("log_level")))
	})
})
