//go:build e2e

package faults_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/faults/scenario"
)

var _ = Describe("A cell whose heartbeats are held back past its presence TTL", func() {
	It("keeps every one of its containers and completes its running task once released", func() {
		res, err := scenario.HeldHeartbeats(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Held).To(BeNumerically(">", res.PresenceTTL))
		Expect(res.Lapsed).To(BeTrue(), "the cell's presence lapsed while it was held")
		Expect(res.TaskFailed).To(BeFalse(), "the task failed: %s", res.TaskFailureReason)
		Expect(res.Restarted).To(BeEmpty())
	})
})

var _ = Describe("An app whose readiness check passes only 5 seconds after start", func() {
	It("is neither registered nor routed before then", func() {
		res, err := scenario.LateReadiness(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.EarlyAnswers).To(BeZero())
		Expect(res.FirstRoutedUptime).To(BeNumerically(">=", res.ReadyAfter))
		Expect(res.RoutableUptime).To(BeNumerically(">=", res.ReadyAfter))
		Expect(res.RegisteredUptime).To(BeNumerically(">=", res.ReadyAfter), "the route emitter's first router.register")
	})
})

var _ = Describe("A cell drained while its replacements start slowly", func() {
	It("fails no request, through a router that never retries", func() {
		res, err := scenario.SlowDrain(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Load.Sent).To(BeNumerically(">", 1000))
		Expect(res.Load.Failed).To(BeZero(), "first failures: %v", res.Load.FirstFailures)
	})
})

var _ = Describe("A cell whose creates always fail", func() {
	It("runs no instance: every one runs on the other cells, and none is counted as crashed", func() {
		res, err := scenario.BlackHole(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.OnBrokenCell).To(BeZero())
		Expect(res.Crashed).To(BeEmpty())
	})
})
