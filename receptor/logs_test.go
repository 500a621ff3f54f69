package receptor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/receptor"
)

var _ = Describe("GET /v1/logs/:log_guid", func() {
	var (
		natsProcess ifrit.Process
		js          jetstream.JetStream
	)

	BeforeEach(func() {
		runner, process, err := natsrunner.StartForTest(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		natsProcess = process
		DeferCleanup(func() { ginkgomon_v2.Interrupt(natsProcess, 10*time.Second) })
		nc, err := nats.Connect(runner.ClientURL(), nats.MaxReconnects(-1))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(nc.Close)
		js, err = jetstream.New(nc)
		Expect(err).NotTo(HaveOccurred())
		opts.Logs = &receptor.LogStream{Logger: logger, JS: js, Timeout: time.Second, Keepalive: 200 * time.Millisecond}
	})

	publish := func(guid string, lines ...string) {
		for i, line := range lines {
			data, err := json.Marshal(models.LogEnvelope{LogGuid: guid, SourceType: "APP", SourceInstance: fmt.Sprint(i % 2),
				MessageType: models.LogMessageTypeOut, Timestamp: time.Now().UnixNano(), Message: line})
			Expect(err).NotTo(HaveOccurred())
			_, err = js.Publish(context.Background(), models.LogSubjectPrefix+guid, data)
			Expect(err).NotTo(HaveOccurred())
		}
	}

	messages := func(body []byte) []string {
		var out []string
		for _, line := range strings.Split(string(body), "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var env models.LogEnvelope
				Expect(json.Unmarshal([]byte(data), &env)).To(Succeed())
				out = append(out, env.Message)
			}
		}
		return out
	}

	It("answers the last N lines of that guid, oldest first, and ends without follow", func() {
		publish("app-1", "one", "two", "three")
		publish("app-2", "other")
		resp := do("GET", "/v1/logs/app-1?recent=2", "")
		Expect(resp.Status).To(Equal(http.StatusOK))
		Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
		Expect(messages(resp.Body)).To(Equal([]string{"two", "three"}))
		Expect(string(resp.Body)).To(ContainSubstring("event: log\n"))
		Expect(string(resp.Body)).To(ContainSubstring(`"source_instance":"1"`))
		Expect(messages(do("GET", "/v1/logs/app-1?recent=10", "").Body)).To(Equal([]string{"one", "two", "three"}))
	})

	It("answers an empty stream for a guid with no lines", func() {
		resp := do("GET", "/v1/logs/nobody?recent=5", "")
		Expect(resp.Status).To(Equal(http.StatusOK))
		Expect(messages(resp.Body)).To(BeEmpty())
	})

	// follow opens a follow stream and returns a reader of its next (id, message).
	follow := func(path, lastEventID string) func() (string, string) {
		c, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		req, err := http.NewRequestWithContext(c, "GET", receptorURL+path, nil)
		Expect(err).NotTo(HaveOccurred())
		if lastEventID != "" {
			req.Header.Set("Last-Event-ID", lastEventID)
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		lines := make(chan string, 100)
		go func() {
			defer resp.Body.Close()
			scanner := bufio.NewScanner(resp.Body)
			for scanner.Scan() {
				lines <- scanner.Text()
			}
			close(lines)
		}()
		return func() (string, string) {
			GinkgoHelper()
			var id string
			for {
				var line string
				Eventually(lines, "5s").Should(Receive(&line))
				if v, ok := strings.CutPrefix(line, "id: "); ok {
					id = v
				}
				if data, ok := strings.CutPrefix(line, "data: "); ok {
					var env models.LogEnvelope
					Expect(json.Unmarshal([]byte(data), &env)).To(Succeed())
					return id, env.Message
				}
			}
		}
	}

	It("follows new lines after the recent ones, and resumes after a Last-Event-ID", func() {
		publish("app-1", "old-1", "old-2")
		next := follow("/v1/logs/app-1?recent=1&follow=true", "")
		_, first := next()
		Expect(first).To(Equal("old-2"))
		publish("app-1", "live-1")
		liveID, live := next()
		Expect(live).To(Equal("live-1"))
		publish("app-1", "live-2")
		_, live = next()
		Expect(live).To(Equal("live-2"))

		resumed := follow("/v1/logs/app-1?follow=true", liveID)
		_, again := resumed()
		Expect(again).To(Equal("live-2"))
	})

	It("follows a guid that has no lines yet", func() {
		next := follow("/v1/logs/fresh?follow=true", "")
		publish("fresh", "hello")
		_, msg := next()
		Expect(msg).To(Equal("hello"))
	})

	DescribeTable("refuses bad parameters",
		func(path string) {
			expectError(do("GET", path, ""), http.StatusBadRequest, "InvalidRequest")
		},
		Entry("a negative recent", "/v1/logs/app?recent=-1"),
		Entry("a recent that is not a number", "/v1/logs/app?recent=lots"),
		Entry("a follow that is not a boolean", "/v1/logs/app?follow=maybe"),
		Entry("a guid that is not one subject token", "/v1/logs/a.b"),
	)

	It("answers 503 ServiceUnavailable when NATS is gone", func() {
		ginkgomon_v2.Interrupt(natsProcess, 10*time.Second)
		expectError(do("GET", "/v1/logs/app-1?recent=5", ""), http.StatusServiceUnavailable, "ServiceUnavailable")
	})
})
