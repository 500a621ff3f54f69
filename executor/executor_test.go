package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/models"
)

func newExecutor(capacity executor.Resources, tweaks ...func(*executor.Config)) *executor.Executor {
	cfg := executor.DefaultConfig()
	cfg.CellID = "cell-x"
	cfg.Capacity = capacity
	cfg.ExternalIP = tg.ExternalIP
	cfg.GracePeriod = time.Second
	cfg.HealthStartupInterval = 100 * time.Millisecond
	cfg.HealthLivenessInterval = 200 * time.Millisecond
	cfg.AllowLoopbackDownloads = true // the specs' file servers are httptest servers on loopback
	for _, t := range tweaks {
		t(&cfg)
	}
	logs := &logstream.Emitter{Publisher: natsConn, Clock: clock.NewClock(), Logger: logger}
	return executor.New(logger, cfg, tg.Client, logs, natsConn, clock.NewClock())
}

// collect gathers an executor's events.
type collector struct {
	mu     sync.Mutex
	events []executor.Event
}

func collect(e *executor.Executor) *collector {
	ch, stop := e.Subscribe()
	DeferCleanup(stop)
	c := &collector{}
	go func() {
		for ev := range ch {
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) find(guid, eventType string) func() *executor.Container {
	return func() *executor.Container {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ev := range c.events {
			if ev.Container.Guid == guid && ev.Type == eventType {
				ev := ev
				return &ev.Container
			}
		}
		return nil
	}
}

func sh(script string) *models.Action {
	return &models.Action{Run: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", script}}}
}

var lrpResource = models.Resource{MemoryMB: 64, DiskMB: 64}

func start(e *executor.Executor, req executor.RunRequest) {
	GinkgoHelper()
	Expect(e.Allocate([]executor.Allocation{{Guid: req.Guid, Kind: req.Kind, Resource: lrpResource}})).To(BeEmpty())
	Expect(e.Run(req)).To(Succeed())
	DeferCleanup(func() { _ = e.Delete(context.Background(), req.Guid) })
}

var _ = Describe("The executor", func() {
	var (
		exec   *executor.Executor
		events *collector
	)

	BeforeEach(func() {
		exec = newExecutor(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10})
		events = collect(exec)
	})

	Describe("keeping the books", func() {
		It("reserves what fits, refuses the rest, and frees resources on delete", func() {
			failed := exec.Allocate([]executor.Allocation{
				{Guid: "a", Kind: executor.KindLRP, Resource: models.Resource{MemoryMB: 600}},
				{Guid: "b", Kind: executor.KindLRP, Resource: models.Resource{MemoryMB: 600}},
				{Guid: "a", Kind: executor.KindLRP, Resource: models.Resource{MemoryMB: 1}},
			})
			Expect(failed).To(HaveLen(2))
			Expect(exec.RemainingResources()).To(Equal(executor.Resources{MemoryMB: 424, DiskMB: 4096, Containers: 9}))
			Expect(exec.Delete(context.Background(), "a")).To(Succeed())
			Expect(exec.RemainingResources()).To(Equal(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10}))
		})

		It("refuses to run what was not reserved", func() {
			Expect(exec.Run(executor.RunRequest{Guid: "nope", Kind: executor.KindLRP})).To(MatchError(ContainSubstring("not reserved")))
		})
	})

	Describe("an LRP", func() {
		It("becomes RUNNING once healthy, reachable at its address, with the instance env", func() {
			start(exec, executor.RunRequest{
				Guid: "web-0", Kind: executor.KindLRP, ProcessGuid: "web", Index: 2, Domain: "d",
				RootFS: tg.AppURI, Ports: []uint32{8080},
				Action:       &models.Action{Run: &models.RunAction{Path: "/app/httpapp"}},
				Env:          []models.EnvVar{{Name: "GREETING", Value: "hi"}},
				Checks:       &models.CheckDefinition{Checks: []models.Check{{TCPCheck: &models.TCPCheck{Port: 8080}}}},
				StartTimeout: 30 * time.Second, LogGuid: "web-logs",
			})
			var running *executor.Container
			Eventually(events.find("web-0", executor.EventRunning), 30*time.Second).ShouldNot(BeNil())
			running = events.find("web-0", executor.EventRunning)()
			Expect(running.Routable).To(BeTrue())
			Expect(running.NetInfo.Address).To(Equal(tg.ExternalIP))
			Expect(running.NetInfo.Ports).To(HaveLen(1))
			hostPort := running.NetInfo.Ports[0].HostPort

			resp, err := http.Get(fmt.Sprintf("http://%s:%d/env", tg.ExternalIP, hostPort))
			Expect(err).NotTo(HaveOccurred())
			var env map[string]string
			Expect(json.NewDecoder(resp.Body).Decode(&env)).To(Succeed())
			resp.Body.Close()
			Expect(env).To(HaveKeyWithValue("GREETING", "hi"))
			Expect(env).To(HaveKeyWithValue("INSTANCE_INDEX", "2"))
			Expect(env).To(HaveKeyWithValue("INSTANCE_GUID", "web-0"))
			Expect(env).To(HaveKeyWithValue("CF_INSTANCE_IP", tg.ExternalIP))
			Expect(env).To(HaveKeyWithValue("CF_INSTANCE_PORT", fmt.Sprint(hostPort)))
			Expect(env).To(HaveKeyWithValue("CF_INSTANCE_ADDR", fmt.Sprintf("%s:%d", tg.ExternalIP, hostPort)))
			Expect(env).To(HaveKeyWithValue("CF_INSTANCE_PORTS", fmt.Sprintf(`[{"external":%d,"internal":8080}]`, hostPort)))
			Expect(env).To(HaveKeyWithValue("CF_INSTANCE_INTERNAL_IP", running.NetInfo.InstanceAddress))

			Expect(exec.Stop("web-0")).To(Succeed())
			Eventually(events.find("web-0", executor.EventCompleted), 10*time.Second).ShouldNot(BeNil())
			Expect(events.find("web-0", executor.EventCompleted)().RunResult).To(Equal(executor.RunResult{Stopped: true}))
		})

		It("crashes with the exit status of its process", func() {
			start(exec, executor.RunRequest{
				Guid: "crash-0", Kind: executor.KindLRP, ProcessGuid: "crash", Domain: "d",
				RootFS: tg.BusyboxURI, Action: sh("sleep 0.2; exit 17"),
			})
			Eventually(events.find("crash-0", executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
			Expect(events.find("crash-0", executor.EventCompleted)().RunResult).To(Equal(executor.RunResult{Failed: true, FailureReason: "Exited with status 17"}))
			Expect(events.find("crash-0", executor.EventRunning)()).NotTo(BeNil(), "without checks it runs once started")
		})

		It("crashes with 'Instance never healthy after ...' when its check never passes", func() {
			start(exec, executor.RunRequest{
				Guid: "sick-0", Kind: executor.KindLRP, ProcessGuid: "sick", Domain: "d",
				RootFS: tg.BusyboxURI, Action: sh("sleep 60"), Ports: []uint32{9999},
				Checks:       &models.CheckDefinition{Checks: []models.Check{{TCPCheck: &models.TCPCheck{Port: 9999}}}},
				StartTimeout: 2 * time.Second,
			})
			Eventually(events.find("sick-0", executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
			reason := events.find("sick-0", executor.EventCompleted)().RunResult.FailureReason
			Expect(reason).To(HavePrefix("Instance never healthy after 2s: failed to make TCP connection"))
			Expect(events.find("sick-0", executor.EventRunning)()).To(BeNil())
		})

		It("keeps running an action that daemonises while its monitor passes", func() {
			start(exec, executor.RunRequest{
				Guid: "daemon-0", Kind: executor.KindLRP, ProcessGuid: "daemon", Domain: "d",
				RootFS: tg.BusyboxURI, Action: sh("touch /tmp/alive; exit 0"),
				Monitor: sh("test -f /tmp/alive"), StartTimeout: 20 * time.Second,
			})
			Eventually(events.find("daemon-0", executor.EventRunning), 30*time.Second).ShouldNot(BeNil())
			Consistently(events.find("daemon-0", executor.EventCompleted), 2*time.Second).Should(BeNil())
		})

		It("reports 'out of memory' when the kernel kills it for its memory limit", func() {
			Expect(exec.Allocate([]executor.Allocation{{Guid: "oom-0", Kind: executor.KindLRP, Resource: models.Resource{MemoryMB: 16, DiskMB: 64}}})).To(BeEmpty())
			Expect(exec.Run(executor.RunRequest{
				Guid: "oom-0", Kind: executor.KindLRP, ProcessGuid: "oom", Domain: "d",
				RootFS: tg.BusyboxURI, Action: sh("head -c 200m /dev/zero | tail"),
			})).To(Succeed())
			DeferCleanup(func() { _ = exec.Delete(context.Background(), "oom-0") })
			Eventually(events.find("oom-0", executor.EventCompleted), 60*time.Second).ShouldNot(BeNil())
			Expect(events.find("oom-0", executor.EventCompleted)().RunResult.FailureReason).To(Equal("out of memory"))
		})

		It("publishes its output and the cell's lifecycle lines on NATS", func() {
			lines := make(chan models.LogEnvelope, 100)
			sub, err := natsConn.Subscribe("logs.chatty", func(m *nats.Msg) {
				var env models.LogEnvelope
				if json.Unmarshal(m.Data, &env) == nil {
					lines <- env
				}
			})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(sub.Unsubscribe)
			Expect(natsConn.Flush()).To(Succeed())

			start(exec, executor.RunRequest{
				Guid: "chatty-0", Kind: executor.KindLRP, ProcessGuid: "chatty", Index: 1, Domain: "d",
				RootFS: tg.BusyboxURI, Action: sh("echo hello; echo oops >&2; sleep 60"), LogGuid: "chatty",
			})
			var seen []string
			Eventually(func() []string {
				for {
					select {
					case env := <-lines:
						seen = append(seen, fmt.Sprintf("%s/%s %s %s", env.SourceType, env.SourceInstance, env.MessageType, env.Message))
					default:
						return seen
					}
				}
			}, 30*time.Second).Should(ContainElements(
				"CELL/1 OUT Cell cell-x creating container for instance chatty-0",
				"CELL/1 OUT Cell cell-x successfully created container for instance chatty-0",
				"APP/1 OUT hello",
				"APP/1 ERR oops",
			))
		})
	})

	Describe("a task", func() {
		It("completes with the first 10 KB of its result file", func() {
			Expect(exec.Allocate([]executor.Allocation{{Guid: "task-1", Kind: executor.KindTask, Resource: lrpResource}})).To(BeEmpty())
			Expect(exec.Run(executor.RunRequest{
				Guid: "task-1", Kind: executor.KindTask, Domain: "d", RootFS: tg.BusyboxURI,
				Action: sh("head -c 20000 /dev/zero | tr '\\0' x > /tmp/result"), ResultFile: "/tmp/result",
			})).To(Succeed())
			DeferCleanup(func() { _ = exec.Delete(context.Background(), "task-1") })
			Eventually(events.find("task-1", executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
			result := events.find("task-1", executor.EventCompleted)().RunResult
			Expect(result.Failed).To(BeFalse())
			Expect(result.Result).To(Equal(strings.Repeat("x", 10240)))
		})

		It("fails with a reason naming a user that does not exist in the image", func() {
			Expect(exec.Allocate([]executor.Allocation{{Guid: "task-2", Kind: executor.KindTask, Resource: lrpResource}})).To(BeEmpty())
			Expect(exec.Run(executor.RunRequest{
				Guid: "task-2", Kind: executor.KindTask, Domain: "d", RootFS: tg.BusyboxURI,
				Action: &models.Action{Run: &models.RunAction{Path: "/bin/true", User: "nobody-here"}},
			})).To(Succeed())
			DeferCleanup(func() { _ = exec.Delete(context.Background(), "task-2") })
			Eventually(events.find("task-2", executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
			result := events.find("task-2", executor.EventCompleted)().RunResult
			Expect(result.Failed).To(BeTrue())
			Expect(result.FailureReason).To(ContainSubstring("nobody-here"))
		})

		It("fails when its image cannot be fetched, naming the image", func() {
			Expect(exec.Allocate([]executor.Allocation{{Guid: "task-3", Kind: executor.KindTask, Resource: lrpResource}})).To(BeEmpty())
			Expect(exec.Run(executor.RunRequest{
				Guid: "task-3", Kind: executor.KindTask, Domain: "d", RootFS: strings.Replace(tg.BusyboxURI, "busybox", "missing", 1),
				Action: sh("true"),
			})).To(Succeed())
			DeferCleanup(func() { _ = exec.Delete(context.Background(), "task-3") })
			Eventually(events.find("task-3", executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
			reason := events.find("task-3", executor.EventCompleted)().RunResult.FailureReason
			Expect(reason).To(HavePrefix("failed to create container"))
			Expect(reason).To(ContainSubstring("missing"))
		})
	})

	Describe("adoption", func() {
		It("takes over a running LRP from another executor of the same cell", func() {
			start(exec, executor.RunRequest{
				Guid: "adopt-0", Kind: executor.KindLRP, ProcessGuid: "adopt", Domain: "d",
				RootFS: tg.BusyboxURI, Action: sh("sleep 300"),
			})
			Eventually(events.find("adopt-0", executor.EventRunning), 30*time.Second).ShouldNot(BeNil())

			second := newExecutor(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10})
			secondEvents := collect(second)
			n, err := second.Adopt(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(1))
			c, ok := second.Get("adopt-0")
			Expect(ok).To(BeTrue())
			Expect(c.Tags).To(BeEmpty())
			Expect(second.RemainingResources().MemoryMB).To(Equal(1024 - lrpResource.MemoryMB))
			Eventually(secondEvents.find("adopt-0", executor.EventRunning), 10*time.Second).ShouldNot(BeNil())
			Expect(second.Delete(context.Background(), "adopt-0")).To(Succeed())
		})
	})
})
