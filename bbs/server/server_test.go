package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
)

var bg = context.Background()

func lrp(guid string, instances int) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: "d", Instances: instances, RootFS: "docker:///library/busybox#1.36",
		Action:   &models.Action{Run: &models.RunAction{Path: "/bin/sleep", Args: []string{"1000"}}},
		MemoryMB: 64, DiskMB: 64,
	}
}

func taskDef() *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFS: "docker:///library/busybox#1.36", MemoryMB: 64, DiskMB: 64,
		Action: &models.Action{Run: &models.RunAction{Path: "/bin/true"}},
	}
}

// deadURL is an address nothing listens on.
func deadURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

func post(path, body string) (int, map[string]string) {
	resp, err := http.Post(bbsURL+path, "application/json", strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var out map[string]string
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

var _ = Describe("BBS server and client", func() {
	It("answers /ping while etcd answers", func() {
		Expect(bbsClient.Ping(bg)).To(Succeed())
	})

	It("carries desired LRPs and actual LRPs both ways and asks the auctioneer to place them", func() {
		Expect(bbsClient.DesireLRP(bg, logger, lrp("web", 2))).To(Succeed())
		got, err := bbsClient.DesiredLRPByProcessGuid(bg, logger, "web")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Instances).To(Equal(2))
		Expect(got.Action.Run.Args).To(Equal([]string{"1000"}))

		lrps, err := bbsClient.DesiredLRPs(bg, logger, models.DesiredLRPFilter{Domain: "d"})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(HaveLen(1))
		infos, err := bbsClient.DesiredLRPSchedulingInfos(bg, logger, models.DesiredLRPFilter{})
		Expect(err).NotTo(HaveOccurred())
		Expect(infos).To(HaveLen(1))
		Expect(infos[0].MemoryMB).To(Equal(64))

		actuals, err := bbsClient.ActualLRPs(bg, logger, models.ActualLRPFilter{ProcessGuid: "web"})
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals).To(HaveLen(2))
		Eventually(auctioneer.Paths).Should(ContainElement("/v1/lrps"))

		key := models.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "d"}
		instance := models.ActualLRPInstanceKey{InstanceGuid: "ig", CellID: "cell"}
		Expect(bbsClient.ClaimActualLRP(bg, logger, key, instance)).To(Succeed())
		Expect(bbsClient.StartActualLRP(bg, logger, key, instance, models.ActualLRPNetInfo{Address: "10.0.0.1"}, true)).To(Succeed())
		index := 0
		actuals, err = bbsClient.ActualLRPs(bg, logger, models.ActualLRPFilter{ProcessGuid: "web", Index: &index})
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals).To(HaveLen(1))
		Expect(actuals[0].State).To(Equal(models.ActualLRPStateRunning))
		Expect(actuals[0].Address).To(Equal("10.0.0.1"))

		err = bbsClient.ClaimActualLRP(bg, logger, key, models.ActualLRPInstanceKey{InstanceGuid: "other", CellID: "cell-2"})
		var typed *models.Error
		Expect(errors.As(err, &typed)).To(BeTrue(), "%v", err)
		Expect(typed.Status).To(Equal(http.StatusConflict))
	})

	It("carries a task through its life", func() {
		Expect(bbsClient.DesireTask(bg, logger, "t", "d", taskDef())).To(Succeed())
		Eventually(auctioneer.Paths).Should(ContainElement("/v1/tasks"))
		ok, err := bbsClient.StartTask(bg, logger, "t", "cell")
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(bbsClient.CompleteTask(bg, logger, "t", "cell", true, "boom", "")).To(Succeed())
		task, err := bbsClient.TaskByGuid(bg, logger, "t")
		Expect(err).NotTo(HaveOccurred())
		Expect(task.State).To(Equal(models.TaskStateCompleted))
		Expect(task.FailureReason).To(Equal("boom"))
		Expect(bbsClient.ResolvingTask(bg, logger, "t")).To(Succeed())
		Expect(bbsClient.DeleteTask(bg, logger, "t")).To(Succeed())
		_, err = bbsClient.TaskByGuid(bg, logger, "t")
		Expect(errors.Is(err, models.ErrTaskNotFound)).To(BeTrue(), "%v", err)
		tasks, err := bbsClient.Tasks(bg, logger, models.TaskFilter{})
		Expect(err).NotTo(HaveOccurred())
		Expect(tasks).To(BeEmpty())
	})

	It("carries cells and domains", func() {
		lease, err := bbsClient.RegisterCell(bg, logger, models.CellPresence{CellID: "c1", RepAddress: "10.0.0.1:1800", Zone: "z"}, 10)
		Expect(err).NotTo(HaveOccurred())
		Expect(bbsClient.HeartbeatCell(bg, logger, "c1", lease)).To(Succeed())
		cells, err := bbsClient.Cells(bg, logger)
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(1))
		Expect(cells[0].Zone).To(Equal("z"))
		Expect(errors.Is(bbsClient.HeartbeatCell(bg, logger, "nope", 12345), models.ErrCellNotFound)).To(BeTrue())

		Expect(bbsClient.UpsertDomain(bg, logger, "cf-apps", 0)).To(Succeed())
		domains, err := bbsClient.Domains(bg, logger)
		Expect(err).NotTo(HaveOccurred())
		Expect(domains).To(ConsistOf("cf-apps"))
	})

	Describe("errors", func() {
		It("decodes typed errors so errors.Is works on the client side", func() {
			_, err := bbsClient.DesiredLRPByProcessGuid(bg, logger, "missing")
			Expect(errors.Is(err, models.ErrDesiredLRPNotFound)).To(BeTrue(), "%v", err)
			Expect(bbsClient.DesireLRP(bg, logger, lrp("web", 0))).To(Succeed())
			err = bbsClient.DesireLRP(bg, logger, lrp("web", 0))
			Expect(errors.Is(err, models.ErrDesiredLRPAlreadyExists)).To(BeTrue(), "%v", err)
		})

		It("sends errors as {name, message} with the error's status", func() {
			status, body := post(client.DesiredLRPByProcessGuidPath, `{"process_guid":"missing"}`)
			Expect(status).To(Equal(http.StatusNotFound))
			Expect(body).To(HaveKeyWithValue("name", "DesiredLRPNotFound"))
			Expect(body).To(HaveKey("message"))
		})

		It("answers 400 InvalidJSON for malformed bodies and 413 for oversized ones", func() {
			status, body := post(client.DesireLRPPath, `{"desired_lrp":`)
			Expect(status).To(Equal(http.StatusBadRequest))
			Expect(body["name"]).To(Equal("InvalidJSON"))

			big := `{"desired_lrp":{"process_guid":"x","annotation":"` + strings.Repeat("a", 128*1024) + `"}}`
			status, body = post(client.DesireLRPPath, big)
			Expect(status).To(Equal(http.StatusRequestEntityTooLarge))
			Expect(body["name"]).To(Equal("RequestEntityTooLarge"))
			_, err := bbsClient.DesiredLRPByProcessGuid(bg, logger, "x")
			Expect(errors.Is(err, models.ErrDesiredLRPNotFound)).To(BeTrue())
		})

		It("answers 400 InvalidRequest when a required field is missing", func() {
			status, body := post(client.ClaimActualLRPPath, `{}`)
			Expect(status).To(Equal(http.StatusBadRequest))
			Expect(body["name"]).To(Equal("InvalidRequest"))
		})
	})

	Describe("several BBS URLs", func() {
		It("fails over from a BBS that does not answer to one that does", func() {
			c := client.NewClient(&http.Client{Timeout: 5 * time.Second}, deadURL(), bbsURL)
			Expect(c.DesireTask(bg, logger, "t", "d", taskDef())).To(Succeed())
			task, err := c.TaskByGuid(bg, logger, "t")
			Expect(err).NotTo(HaveOccurred())
			Expect(task.TaskGuid).To(Equal("t"))
		})

		It("answers ServiceUnavailable promptly when no BBS answers", func() {
			c := client.NewClient(&http.Client{Timeout: 5 * time.Second}, deadURL(), deadURL())
			start := time.Now()
			_, err := c.Tasks(bg, logger, models.TaskFilter{})
			Expect(errors.Is(err, models.ErrServiceUnavailable)).To(BeTrue(), "%v", err)
			_, err = c.SubscribeToEvents(bg, logger, 0)
			Expect(errors.Is(err, models.ErrServiceUnavailable)).To(BeTrue(), "%v", err)
			Expect(time.Since(start)).To(BeNumerically("<", time.Second))
		})

		It("gives up on a BBS that accepts but never answers within the client timeout, and fails over", func() {
			hung := make(chan struct{})
			stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hung }))
			DeferCleanup(stuck.Close)
			DeferCleanup(func() { close(hung) })
			c := client.NewClient(&http.Client{Timeout: 300 * time.Millisecond}, stuck.URL)
			start := time.Now()
			_, err := c.Tasks(bg, logger, models.TaskFilter{})
			Expect(errors.Is(err, models.ErrServiceUnavailable)).To(BeTrue(), "%v", err)
			Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))

			c = client.NewClient(&http.Client{Timeout: 300 * time.Millisecond}, stuck.URL, bbsURL)
			Expect(c.UpsertDomain(bg, logger, "d", 0)).To(Succeed())
		})

		It("does not fail over on a typed answer", func() {
			c := client.NewClient(&http.Client{Timeout: 5 * time.Second}, bbsURL, deadURL())
			_, err := c.TaskByGuid(bg, logger, "nope")
			Expect(errors.Is(err, models.ErrTaskNotFound)).To(BeTrue(), "%v", err)
		})
	})

	Describe("events", func() {
		It("streams events in commit order and resumes after an id", func() {
			source, err := bbsClient.SubscribeToEvents(bg, logger, 0)
			Expect(err).NotTo(HaveOccurred())
			defer source.Close()
			Expect(bbsClient.DesireLRP(bg, logger, lrp("web", 1))).To(Succeed())
			Expect(bbsClient.UpdateDesiredLRP(bg, logger, "web", models.DesiredLRPUpdate{Instances: intPtr(2)})).To(Succeed())

			next := func(s client.EventSource, prefix string) models.Event {
				for {
					ev, err := s.Next()
					Expect(err).NotTo(HaveOccurred())
					if strings.HasPrefix(ev.Type, prefix) {
						return ev
					}
				}
			}
			created := next(source, "desired_lrp_")
			Expect(created.Type).To(Equal(models.EventTypeDesiredLRPCreated))
			Expect(created.DesiredLRP.ProcessGuid).To(Equal("web"))
			changed := next(source, "desired_lrp_")
			Expect(changed.Type).To(Equal(models.EventTypeDesiredLRPChanged))
			Expect(changed.DesiredLRPBefore.Instances).To(Equal(1))
			Expect(changed.DesiredLRPAfter.Instances).To(Equal(2))
			Expect(changed.ID).To(BeNumerically(">", created.ID))

			resumed, err := bbsClient.SubscribeToEvents(bg, logger, created.ID)
			Expect(err).NotTo(HaveOccurred())
			defer resumed.Close()
			again := next(resumed, "desired_lrp_")
			Expect(again.ID).To(Equal(changed.ID))
			Expect(again.Type).To(Equal(models.EventTypeDesiredLRPChanged))
		})

		It("ends a resume into compacted history with InvalidRequest, not a plain EOF", func() {
			source, err := bbsClient.SubscribeToEvents(bg, logger, 0)
			Expect(err).NotTo(HaveOccurred())
			defer source.Close()
			Expect(bbsClient.DesireLRP(bg, logger, lrp("old", 1))).To(Succeed())
			first, err := source.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(bbsClient.UpdateDesiredLRP(bg, logger, "old", models.DesiredLRPUpdate{Instances: intPtr(2)})).To(Succeed())
			resp, err := etcdClient.Get(bg, "/")
			Expect(err).NotTo(HaveOccurred())
			_, err = etcdClient.Compact(bg, resp.Header.Revision, clientv3.WithCompactPhysical())
			Expect(err).NotTo(HaveOccurred())

			resumed, err := bbsClient.SubscribeToEvents(bg, logger, first.ID)
			Expect(err).NotTo(HaveOccurred())
			defer resumed.Close()
			_, err = resumed.Next()
			Expect(err).To(MatchError(models.ErrInvalidRequest))
			Expect(err.Error()).To(ContainSubstring("compacted"))
		})

		It("ends the stream when the server stops", func() {
			source, err := bbsClient.SubscribeToEvents(bg, logger, 0)
			Expect(err).NotTo(HaveOccurred())
			errs := make(chan error, 1)
			go func() {
				for {
					if _, err := source.Next(); err != nil {
						errs <- err
						return
					}
				}
			}()
			process.Signal(os.Interrupt)
			Eventually(errs, "5s").Should(Receive())
		})
	})

	Describe("when etcd is down", func() {
		It("answers ServiceUnavailable promptly and recovers when etcd returns", func() {
			etcd.Stop()
			restarted := false
			DeferCleanup(func() {
				if !restarted {
					Expect(etcd.Start()).To(Succeed())
				}
			})
			start := time.Now()
			_, err := bbsClient.Tasks(bg, logger, models.TaskFilter{})
			Expect(errors.Is(err, models.ErrServiceUnavailable)).To(BeTrue(), "%v", err)
			Expect(errors.Is(bbsClient.Ping(bg), models.ErrServiceUnavailable)).To(BeTrue())
			resp, err := http.Get(bbsURL + "/ping")
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
			Expect(time.Since(start)).To(BeNumerically("<", 8*time.Second))

			Expect(etcd.Start()).To(Succeed())
			restarted = true
			Eventually(func() error { return bbsClient.Ping(bg) }, "20s", "200ms").Should(Succeed())
		})
	})
})

func intPtr(i int) *int { return &i }
