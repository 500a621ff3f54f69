package executor_test

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Usage", func() {
	It("samples a busy instance at once and then every interval: on NATS, and in the cell's totals on /metrics", func() {
		exec := newExecutor(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10}, func(c *executor.Config) {
			c.MetricsInterval = 500 * time.Millisecond
		})
		samples := make(chan models.ContainerMetrics, 100)
		sub, err := natsConn.Subscribe(models.MetricsSubjectPrefix+"busy", func(m *nats.Msg) {
			var s models.ContainerMetrics
			if json.Unmarshal(m.Data, &s) == nil {
				samples <- s
			}
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
		Expect(natsConn.Flush()).To(Succeed())

		start(exec, executor.RunRequest{
			Guid: "busy-0", Kind: executor.KindLRP, ProcessGuid: "busy", Index: 2, Domain: "d", MetricsGuid: "busy",
			RootFS: tg.BusyboxURI, Action: sh("while :; do :; done"),
		})
		var first models.ContainerMetrics
		Eventually(samples, 10*time.Second).Should(Receive(&first))
		Expect(first.InstanceGuid).To(Equal("busy-0"))
		Expect(first.InstanceIndex).To(Equal(2))
		Expect(first.MemoryLimit).To(Equal(uint64(64 << 20)))

		registry := prometheus.NewRegistry()
		registry.MustRegister(exec.Collectors()...)
		gauge := func(name string) func() float64 {
			return func() float64 {
				families, err := registry.Gather()
				Expect(err).NotTo(HaveOccurred())
				for _, f := range families {
					if f.GetName() == name {
						return f.GetMetric()[0].GetGauge().GetValue()
					}
				}
				Fail("no gauge " + name)
				return 0
			}
		}
		Eventually(gauge("diego_rep_containers_cpu_percent"), 10*time.Second).Should(BeNumerically(">", 50))
		Expect(gauge("diego_rep_containers_reporting")()).To(Equal(1.0))
		Expect(gauge("diego_rep_containers_memory_bytes")()).To(BeNumerically(">", 0))
		Expect(gauge("diego_rep_remaining_memory_mb")()).To(Equal(1024.0 - 64))
		Expect(gauge("diego_rep_capacity_containers")()).To(Equal(10.0))

		Expect(exec.Stop("busy-0")).To(Succeed())
		Eventually(gauge("diego_rep_containers_reporting"), 20*time.Second).Should(BeZero())
	})
})
