//go:build e2e

package faults_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/faults/scenario"
)

var _ = Describe("A cell that answers the auctioneer late", func() {
	It("never runs a task twice nor calls one back twice", func() {
		res, err := scenario.LateCell(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.LateAnswers).To(BeNumerically(">", 0), "the cell never answered late: the scenario did not take hold")
		Expect(res.RanTwice).To(BeEmpty())
		Expect(res.CalledBackTwice).To(BeEmpty())
		Expect(res.Failed).To(BeEmpty())
	})
})

var _ = Describe("A route emitter resuming into compacted history", func() {
	It("resyncs from a fresh snapshot and routes what changed meanwhile", func() {
		res, err := scenario.CompactedResume(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Resynced).To(BeTrue(), "the emitter says it resynced after compaction")
		Expect(res.Corrected).To(BeNumerically("<", 10*time.Second))
	})
})

var _ = Describe("A loop of large route updates", func() {
	It("does not fill etcd, and the BBS keeps writing", func() {
		res, err := scenario.RouteLoop(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.LoopError).To(BeEmpty())
		Expect(res.Loop.MaxDBSizeBytes).To(BeNumerically("<", res.QuotaBytes), "etcd's database against its quota")
		Expect(res.Loop.LongestStall).To(BeNumerically("<", 10*time.Second), "the longest one update waited")
		Expect(res.Wrote).To(BeTrue(), "a new app ran and every cell was present after the loop")
	})
})
