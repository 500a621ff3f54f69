package executor_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Action log sources and egress rules in real containers", func() {
	var (
		cell   *executor.Executor
		events *collector
	)

	BeforeEach(func() {
		cell = newExecutor(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10})
		events = collect(cell)
	})

	runTask := func(req executor.RunRequest) executor.RunResult {
		GinkgoHelper()
		req.Kind, req.Domain, req.RootFS = executor.KindTask, "d", tg.BusyboxURI
		Expect(cell.Allocate([]executor.Allocation{{Guid: req.Guid, Kind: executor.KindTask, Resource: lrpResource}})).To(BeEmpty())
		Expect(cell.Run(req)).To(Succeed())
		DeferCleanup(func() { _ = cell.Delete(context.Background(), req.Guid) })
		Eventually(events.find(req.Guid, executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
		return events.find(req.Guid, executor.EventCompleted)().RunResult
	}

	It("publishes each line on NATS under the log_source of its action or the nearest one around it", func() {
		var mu sync.Mutex
		var seen []string
		sub, err := natsConn.Subscribe("logs.sources", func(m *nats.Msg) {
			var env models.LogEnvelope
			if json.Unmarshal(m.Data, &env) == nil && env.SourceType != models.LogSourceCell {
				mu.Lock()
				seen = append(seen, env.SourceType+" "+env.MessageType+" "+env.Message)
				mu.Unlock()
			}
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
		Expect(natsConn.Flush()).To(Succeed())
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("1234")) }))
		DeferCleanup(server.Close)

		action := &models.Action{Serial: &models.SerialAction{LogSource: "STG", Actions: []*models.Action{
			models.Download(models.DownloadAction{Artifact: "droplet", From: server.URL + "/d", To: "/tmp/droplet"}),
			sh("echo from-serial"),
			{Run: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", "echo own >&2"}, LogSource: "RUN"}},
			{EmitProgress: &models.EmitProgressAction{LogSource: "PROG", StartMessage: "starting", SuccessMessage: "finished",
				Action: &models.Action{Try: &models.TryAction{Action: sh("echo nested; exit 1")}}}},
		}}}
		Expect(runTask(executor.RunRequest{Guid: "sources-1", LogGuid: "sources", Action: action})).To(Equal(executor.RunResult{}))
		Eventually(func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string{}, seen...)
		}).Should(Equal([]string{
			"STG OUT Downloading droplet...",
			"STG OUT Downloaded droplet (4B)",
			"STG OUT from-serial",
			"RUN ERR own",
			"PROG OUT starting",
			"PROG OUT nested",
			"PROG OUT Ignoring failure: Exited with status 1",
			"PROG OUT finished",
		}))
	})

	It("keeps the work's own log_source for actions that name none", func() {
		var mu sync.Mutex
		var seen []string
		sub, err := natsConn.Subscribe("logs.plain", func(m *nats.Msg) {
			var env models.LogEnvelope
			if json.Unmarshal(m.Data, &env) == nil && env.SourceType != models.LogSourceCell {
				mu.Lock()
				seen = append(seen, env.SourceType+" "+env.Message)
				mu.Unlock()
			}
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
		Expect(natsConn.Flush()).To(Succeed())
		Expect(runTask(executor.RunRequest{Guid: "plain-1", LogGuid: "plain", LogSource: "TASK",
			Action: models.Serial(sh("echo one"), sh("echo two"))})).To(Equal(executor.RunResult{}))
		Eventually(func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string{}, seen...)
		}).Should(Equal([]string{"TASK one", "TASK two"}))
	})

	It("gives garden the egress rules with their icmp type and code and their log flag", func() {
		rules := []models.SecurityGroupRule{
			{Protocol: models.ProtocolICMP, Destinations: []string{"10.254.99.1"}, IcmpInfo: &models.ICMPInfo{Type: 8, Code: 0}, Log: true},
			{Protocol: models.ProtocolTCP, Destinations: []string{"10.254.99.2"}, PortRange: &models.PortRange{Start: 8000, End: 8010}},
		}
		const guid = "egress-task-with-a-long-guid-0123456789"
		Expect(cell.Allocate([]executor.Allocation{{Guid: guid, Kind: executor.KindTask, Resource: lrpResource}})).To(BeEmpty())
		Expect(cell.Run(executor.RunRequest{Guid: guid, Kind: executor.KindTask, Domain: "d", RootFS: tg.BusyboxURI,
			Action: sh("sleep 30"), EgressRules: rules})).To(Succeed())
		DeferCleanup(func() { _ = cell.Delete(context.Background(), guid) })
		rendered := func() string {
			out, err := exec.Command("iptables-save", "-t", "filter").Output()
			Expect(err).NotTo(HaveOccurred())
			return string(out)
		}
		Eventually(rendered, 30*time.Second).Should(ContainSubstring(
			`-d 10.254.99.1/32 -p icmp -m icmp --icmp-type 8/0 -j LOG --log-prefix "` + guid[:28] + ` "`))
		out := rendered()
		Expect(string(out)).To(ContainSubstring(`-d 10.254.99.1/32 -p icmp -m icmp --icmp-type 8/0 -j ACCEPT`))
		Expect(string(out)).To(ContainSubstring(`-d 10.254.99.2/32 -p tcp -m tcp --dport 8000:8010 -j ACCEPT`))
		Expect(string(out)).NotTo(ContainSubstring(`--dport 8000:8010 -j LOG`))
	})
})
