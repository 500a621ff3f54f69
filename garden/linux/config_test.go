package linux_test

import (
	"github.com/diego-runtime/diego/garden/linux"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Config", func() {
	valid := func() linux.Config {
		c := linux.DefaultConfig()
		c.StateDir = "/var/lib/garden"
		c.InitPath = "/usr/local/bin/garden-init"
		return c
	}

	It("derives the chain prefix and cgroup parent from the bridge", func() {
		c := valid()
		c.BridgeName = "cell7"
		Expect(c.Validate()).To(Succeed())
		Expect(c.ChainPrefix).To(Equal("g-cell7"))
		Expect(c.CgroupParent).To(Equal("garden-cell7"))
	})

	DescribeTable("refuses",
		func(change func(*linux.Config), complaint string) {
			c := valid()
			change(&c)
			Expect(c.Validate()).To(MatchError(ContainSubstring(complaint)))
		},
		Entry("a relative state dir", func(c *linux.Config) { c.StateDir = "state" }, "state_dir"),
		Entry("a bridge name too long for veth names", func(c *linux.Config) { c.BridgeName = "toolongname" }, "bridge_name"),
		Entry("a bridge name with capitals", func(c *linux.Config) { c.BridgeName = "Dg0" }, "bridge_name"),
		Entry("a subnet that is not IPv4", func(c *linux.Config) { c.Subnet = "fd00::/64" }, "subnet"),
		Entry("a subnet too small", func(c *linux.Config) { c.Subnet = "10.0.0.0/30" }, "subnet"),
		Entry("an inverted port range", func(c *linux.Config) { c.PortRangeStart, c.PortRangeEnd = 2000, 1000 }, "port range"),
		Entry("an external IP that is not IPv4", func(c *linux.Config) { c.ExternalIP = "cell.local" }, "external_ip"),
		Entry("container root mapped to host root", func(c *linux.Config) { c.UIDMapStart = 0 }, "uid_map_start"),
		Entry("a long chain prefix", func(c *linux.Config) { c.ChainPrefix = "a-very-long-chain-prefix" }, "chain_prefix"),
		Entry("a relative init path", func(c *linux.Config) { c.InitPath = "garden-init" }, "init_path"),
		Entry("a negative start limit", func(c *linux.Config) { c.MaxConcurrentStarts = -1 }, "max_concurrent_starts"),
		Entry("an unknown uid isolation", func(c *linux.Config) { c.UIDIsolation = "none" }, "uid_isolation"),
		Entry("uid ranges past the largest id", func(c *linux.Config) { c.UIDMapStart, c.UIDRangeCount = 1<<32-65536*10, 10 }, "past the largest id"),
	)

	It("names every mistake of a config at once", func() {
		c := valid()
		c.StateDir, c.BridgeName, c.Subnet, c.UIDMapStart = "state", "Dg0", "10.0.0.0/30", 0
		c.DiskQuota, c.DefaultPids, c.MaxPids = "maybe", 10, 5
		err := c.Validate()
		for _, field := range []string{"state_dir", "bridge_name", "subnet", "uid_map_start", "disk_quota", "default_pids"} {
			Expect(err).To(MatchError(ContainSubstring(field)))
		}
	})

	It("gives one uid range per container by default, as many as max_containers", func() {
		c := valid()
		c.MaxContainers = 40
		Expect(c.Validate()).To(Succeed())
		Expect(c.UIDIsolation).To(Equal(linux.UIDIsolationPerContainer))
		Expect(c.UIDRangeCount).To(BeEquivalentTo(40))
	})

	It("accepts the last range ending at the largest id, and a shared range needing only one", func() {
		c := valid()
		c.UIDMapStart, c.UIDRangeCount = 1<<32-1-65536*11, 10
		Expect(c.Validate()).To(Succeed())
		c = valid()
		c.UIDIsolation, c.UIDMapStart = linux.UIDIsolationShared, 1<<32-1-65536
		Expect(c.Validate()).To(Succeed())
	})
})
