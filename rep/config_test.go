package rep_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/rep"
)

var _ = Describe("The rep's config", func() {
	valid := func() rep.Config {
		c := rep.DefaultConfig()
		c.CellID = "cell-1"
		c.Executor.CellID = "cell-1"
		return c
	}

	It("accepts its defaults once it names its cell, logging at info and bounding BBS calls at 30 s", func() {
		c := valid()
		Expect(c.Validate()).To(Succeed())
		Expect(c.LogLevel).To(Equal("info"))
		Expect(c.BBSTimeout).To(Equal(10 * time.Second))
	})

	DescribeTable("refuses what cannot work, naming the field",
		func(change func(*rep.Config), says string) {
			c := valid()
			change(&c)
			Expect(c.Validate()).To(MatchError(ContainSubstring(says)))
		},
		Entry("no cell id", func(c *rep.Config) { c.CellID = "" }, "cell_id is required"),
		Entry("an unknown log level", func(c *rep.Config) { c.LogLevel = "loud" }, "log_level"),
		Entry("no BBS timeout", func(c *rep.Config) { c.BBSTimeout = 0 }, "bbs_timeout must be positive"),
		Entry("a presence TTL within a heartbeat", func(c *rep.Config) { c.PresenceTTL = c.HeartbeatInterval }, "presence_ttl"),
		Entry("no BBS", func(c *rep.Config) { c.BBSURLs = nil }, "bbs_urls is required"),
	)

	It("reports every mistake at once", func() {
		c := valid()
		c.CellID, c.LogLevel, c.BBSTimeout, c.DrainDelay = "", "loud", 0, -time.Second
		err := c.Validate()
		for _, field := range []string{"cell_id", "log_level", "bbs_timeout", "drain_delay"} {
			Expect(err).To(MatchError(ContainSubstring(field)))
		}
	})
})
