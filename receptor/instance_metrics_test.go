package receptor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"code.cloudfoundry.org/clock"
	"github.com/nats-io/nats.go"
	"github.com/tedsuo/ifrit"
	ginkgomon_v2 "github.com/tedsuo/ifrit/ginkgomon_v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/receptor"
)

var _ = Describe("GET /v1/actual_lrps/:guid/metrics", func() {
	var (
		nc          *nats.Conn
		natsProcess ifrit.Process
	)

	BeforeEach(func() {
		runner, process, err := natsrunner.StartForTest(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		natsProcess = process
		DeferCleanup(func() { ginkgomon_v2.Interrupt(natsProcess, 10*time.Second) })
		nc, err = nats.Connect(runner.ClientURL(), nats.MaxReconnects(-1))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(nc.Close)
		opts.Metrics = receptor.NewMetricsCache(logger, clock.NewClock(), time.Minute)
		sub, err := opts.Metrics.Subscribe(nc)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
		Expect(nc.Flush()).To(Succeed())
	})

	// running desires guid with n instances, each claimed and started on cell-1
	// as instance guid ig-<index>; the LRP's metrics guid is "m-"+guid.
	running := func(guid string, n int) {
		GinkgoHelper()
		body := strings.Replace(lrpJSON(guid, "d", n), `"annotation"`, `"metrics_guid":"m-`+guid+`","annotation"`, 1)
		Expect(do("POST", "/v1/desired_lrps", body).Status).To(Equal(http.StatusCreated))
		for i := 0; i < n; i++ {
			key := models.ActualLRPKey{ProcessGuid: guid, Index: i, Domain: "d"}
			instance := models.ActualLRPInstanceKey{InstanceGuid: "ig-" + string(rune('0'+i)), CellID: "cell-1"}
			Expect(bbsClient.ClaimActualLRP(ctx(), logger, key, instance)).To(Succeed())
			Expect(bbsClient.StartActualLRP(ctx(), logger, key, instance, models.ActualLRPNetInfo{Address: "10.0.0.1"}, true)).To(Succeed())
		}
	}
	publish := func(m models.ContainerMetrics) {
		GinkgoHelper()
		data, err := json.Marshal(m)
		Expect(err).NotTo(HaveOccurred())
		Expect(nc.Publish(models.MetricsSubjectPrefix+m.MetricsGuid, data)).To(Succeed())
		Expect(nc.Flush()).To(Succeed())
	}
	list := func(guid string) func() []models.InstanceMetrics {
		return func() []models.InstanceMetrics {
			return decode[[]models.InstanceMetrics](do("GET", "/v1/actual_lrps/"+guid+"/metrics", ""))
		}
	}

	It("answers each instance's latest memory and disk, and the CPU between its last two samples", func() {
		running("web", 2)
		t0 := time.Now().Add(-10 * time.Second).UnixNano()
		publish(models.ContainerMetrics{MetricsGuid: "m-web", InstanceIndex: 0, InstanceGuid: "ig-0", CPUNanos: 1e9, MemoryBytes: 10 << 20,
			MemoryLimit: 128 << 20, DiskBytes: 1 << 20, DiskLimit: 256 << 20, Timestamp: t0})
		publish(models.ContainerMetrics{MetricsGuid: "m-web", InstanceIndex: 0, InstanceGuid: "ig-0", CPUNanos: 6e9, MemoryBytes: 110 << 20,
			MemoryLimit: 128 << 20, DiskBytes: 2 << 20, DiskLimit: 256 << 20, Timestamp: t0 + 5e9})
		publish(models.ContainerMetrics{MetricsGuid: "other", InstanceIndex: 1, InstanceGuid: "ig-1", CPUNanos: 9e9, MemoryBytes: 1, Timestamp: t0})

		Eventually(list("web")).Should(ContainElement(And(
			HaveField("Index", 0), HaveField("InstanceGuid", "ig-0"), HaveField("CellID", "cell-1"),
			HaveField("State", models.ActualLRPStateRunning),
			HaveField("CPUPercent", BeNumerically("~", 100, 0.01)),
			HaveField("MemoryBytes", uint64(110<<20)), HaveField("MemoryLimitBytes", uint64(128<<20)),
			HaveField("DiskBytes", uint64(2<<20)), HaveField("DiskLimitBytes", uint64(256<<20)),
		)))
		metrics := list("web")()
		Expect(metrics).To(HaveLen(2))
		Expect(metrics[1].Index).To(Equal(1))
		Expect(metrics[1].Timestamp).To(BeZero(), "a sample of another metrics guid is not this instance's")
		Expect(metrics[1].MemoryBytes).To(BeZero())
	})

	It("answers 404 for an LRP that is not desired", func() {
		expectError(do("GET", "/v1/actual_lrps/nope/metrics", ""), http.StatusNotFound, "DesiredLRPNotFound")
	})

	It("streams every new sample with follow=true", func() {
		running("api", 1)
		req, err := http.NewRequestWithContext(context.Background(), "GET", receptorURL+"/v1/actual_lrps/api/metrics?follow=true", nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))

		events := make(chan models.InstanceMetrics, 10)
		go func() {
			defer GinkgoRecover()
			scanner := bufio.NewScanner(resp.Body)
			for scanner.Scan() {
				if data, ok := strings.CutPrefix(scanner.Text(), "data: "); ok {
					var m models.InstanceMetrics
					Expect(json.Unmarshal([]byte(data), &m)).To(Succeed())
					events <- m
				}
			}
		}()
		now := time.Now().UnixNano()
		publish(models.ContainerMetrics{MetricsGuid: "m-api", InstanceGuid: "ig-0", CPUNanos: 0, MemoryBytes: 1 << 20, Timestamp: now})
		publish(models.ContainerMetrics{MetricsGuid: "m-api", InstanceGuid: "ig-0", CPUNanos: 5e8, MemoryBytes: 2 << 20, Timestamp: now + 1e9})
		var first, second models.InstanceMetrics
		Eventually(events, 5*time.Second).Should(Receive(&first))
		Expect(first.ProcessGuid).To(Equal("api"))
		Expect(first.MemoryBytes).To(Equal(uint64(1 << 20)))
		Eventually(events, 5*time.Second).Should(Receive(&second))
		Expect(second.MemoryBytes).To(Equal(uint64(2 << 20)))
		Expect(second.CPUPercent).To(BeNumerically("~", 50, 0.01))
	})

	It("refuses a follow value that is not a boolean", func() {
		running("api", 1)
		expectError(do("GET", "/v1/actual_lrps/api/metrics?follow=yes", ""), http.StatusBadRequest, "InvalidRequest")
	})
})

var _ = Describe("GET /v1/actual_lrps/:guid/metrics without NATS", func() {
	It("answers 501 NotImplemented", func() {
		desire("web", "d", 1)
		expectError(do("GET", "/v1/actual_lrps/web/metrics", ""), http.StatusNotImplemented, "NotImplemented")
	})
})
