//go:build e2e

package faults_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/faults/scenario"
)

var _ = Describe("A NATS outage", func() {
	It("fails no request of 200 per second for 3 minutes, six prune thresholds long, and routes changes once NATS is back", func() {
		res, err := scenario.NATSOutage(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Outage).To(BeNumerically(">", res.PruneThreshold), "the outage outlasts the prune threshold")
		Expect(res.PruningSuspended).To(BeTrue(), "the router says it held back pruning")
		Expect(res.Load.Sent).To(BeNumerically(">", 30000))
		Expect(res.Load.Failed).To(BeZero(), "first failures: %v", res.Load.FirstFailures)
		Expect(res.RouteChange).To(BeNumerically("<", 30*time.Second))
	})
})

var _ = Describe("An etcd outage of 30 seconds", func() {
	It("fails no request and restarts no instance, though every lease lapsed", func() {
		res, err := scenario.EtcdOutage(env)
		AddReportEntry("result", res)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Unreachable).To(BeTrue(), "the API could not read the store during the cut")
		Expect(res.Load.Sent).To(BeNumerically(">", 3000))
		Expect(res.Load.Failed).To(BeZero(), "first failures: %v", res.Load.FirstFailures)
		Expect(res.Restarted).To(BeEmpty())
	})
})
