package cluster

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Settings (diego up --set)", func() {
	var docs map[string]doc
	BeforeEach(func() {
		docs = map[string]doc{"router": {"listen_address": "127.0.0.1:8080"}, "cell-1-rep": {"executor": doc{"cell_id": "cell-1"}}}
	})

	It("writes a field, a nested field, and the objects on the way to a new one", func() {
		Expect(applySettings(docs, []string{
			`router.prune_threshold="30s"`,
			`cell-1-rep.executor.health_startup_interval="1s"`,
			`cell-1-rep.garden.limits.max=3`,
		})).To(Succeed())
		Expect(docs["router"]["prune_threshold"]).To(Equal("30s"))
		Expect(docs["router"]["listen_address"]).To(Equal("127.0.0.1:8080"))
		Expect(docs["cell-1-rep"]["executor"]).To(Equal(doc{"cell_id": "cell-1", "health_startup_interval": "1s"}))
		Expect(docs["cell-1-rep"]["garden"]).To(Equal(doc{"limits": doc{"max": float64(3)}}))
	})

	DescribeTable("refuses",
		func(setting, message string) {
			Expect(applySettings(docs, []string{setting})).To(MatchError(ContainSubstring(message)))
		},
		Entry("no value", "router.prune_threshold", "want DAEMON.FIELD=JSON"),
		Entry("an unknown daemon", `rooter.x=1`, "no daemon config"),
		Entry("no field", `router=1`, "no daemon config"),
		Entry("a value that is not JSON", `router.prune_threshold=30s`, "not JSON"),
		Entry("a field under a plain value", `router.listen_address.port=1`, "not an object"),
	)
})
