package rep_test

import (
	"context"
	"net/http"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/clock/fakeclock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep"
	"github.com/diego-runtime/diego/rep/repapi"
)

// cell is a rep with its executor and API server, against the suite's garden and BBS.
type cell struct {
	id    string
	rep   *rep.Rep
	exec  *executor.Executor
	url   string
	procs []ifrit.Process
	cfg   rep.Config
}

type cellOptions struct {
	id            string
	capacity      executor.Resources
	repClock      clock.Clock
	presenceClock clock.Clock // default the real clock; a fake one holds the heartbeats back
	withProcessor bool
	withPresence  bool
	withAdopter   bool
	gardenSocket  string        // default the suite's garden
	drainDelay    time.Duration // default 200ms
	grace         time.Duration // default 1s
}

func startCell(o cellOptions) *cell {
	GinkgoHelper()
	if o.capacity == (executor.Resources{}) {
		o.capacity = executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 20}
	}
	if o.repClock == nil {
		o.repClock = clock.NewClock()
	}
	if o.presenceClock == nil {
		o.presenceClock = clock.NewClock()
	}
	cfg := rep.DefaultConfig()
	cfg.CellID = o.id
	cfg.Zone = "z9"
	cfg.PresenceTTL = 2 * time.Second
	cfg.HeartbeatInterval = 300 * time.Millisecond
	cfg.EvacuationPollingInterval = 200 * time.Millisecond
	cfg.Executor.CellID = o.id
	cfg.Executor.Capacity = o.capacity
	cfg.Executor.ExternalIP = tg.ExternalIP
	cfg.Executor.GracePeriod = time.Second
	if o.grace > 0 {
		cfg.Executor.GracePeriod = o.grace
	}
	cfg.DrainDelay = 200 * time.Millisecond
	if o.drainDelay > 0 {
		cfg.DrainDelay = o.drainDelay
	}
	cfg.Executor.HealthStartupInterval = 100 * time.Millisecond
	cfg.Executor.HealthLivenessInterval = 200 * time.Millisecond
	cfg.Executor.DownloadCacheDir = GinkgoT().TempDir()
	cfg.Executor.AllowLoopbackDownloads = true // file servers are httptest servers on loopback

	logs := &logstream.Emitter{Publisher: natsConn, Clock: clock.NewClock(), Logger: logger}
	gardenClient := tg.Client
	if o.gardenSocket != "" {
		gardenClient = garden.NewClient(o.gardenSocket)
	}
	exec := executor.New(logger, cfg.Executor, gardenClient, logs, natsConn, clock.NewClock())
	server, err := transport.NewServer(transport.TLS{}, "127.0.0.1:0", nil)
	Expect(err).NotTo(HaveOccurred())
	cfg.AdvertiseURL = "http://" + server.Addr()
	r := rep.New(logger, cfg, db, exec, o.repClock)
	server.Handler = r.Handler()

	c := &cell{id: o.id, rep: r, exec: exec, url: cfg.AdvertiseURL, cfg: cfg}
	c.procs = append(c.procs, ifrit.Invoke(server))
	if o.withProcessor {
		c.procs = append(c.procs, ifrit.Invoke(rep.Processor{Rep: r}))
	}
	if o.withAdopter {
		c.procs = append(c.procs, ifrit.Invoke(rep.Adopter{Rep: r, Interval: 200 * time.Millisecond}))
	}
	if o.withPresence {
		c.procs = append(c.procs, ifrit.Invoke(&rep.Presence{Logger: logger, BBS: db, Clock: o.presenceClock,
			Record: r.PresenceRecord, TTL: cfg.PresenceTTL, Interval: cfg.HeartbeatInterval}))
	}
	DeferCleanup(func() {
		c.stop()
		for _, ctr := range exec.Containers() {
			_ = exec.Delete(context.Background(), ctr.Guid)
		}
	})
	return c
}

// stop ends the rep's processes, leaving its containers to garden.
func (c *cell) stop() {
	for _, p := range c.procs {
		p.Signal(os.Interrupt)
		<-p.Wait()
	}
	c.procs = nil
}

var domainCounter int

func desireLRP(guid string, action *models.Action, checks *models.CheckDefinition) *models.DesiredLRP {
	GinkgoHelper()
	lrp := &models.DesiredLRP{
		ProcessGuid: guid, Domain: "rep-tests", Instances: 1, RootFS: tg.BusyboxURI,
		Action: action, CheckDefinition: checks, MemoryMB: 32, DiskMB: 32, Ports: []uint32{8080},
	}
	Expect(db.DesireLRP(context.Background(), logger, lrp)).To(Succeed())
	DeferCleanup(func() { _ = db.RemoveDesiredLRP(context.Background(), logger, guid) })
	return lrp
}

func lrpWork(guid string, index int) repapi.Work {
	return repapi.Work{LRPs: []repapi.LRPWork{{
		ActualLRPKey:        models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "rep-tests"},
		Resource:            models.Resource{MemoryMB: 32, DiskMB: 32},
		PlacementConstraint: models.PlacementConstraint{RootFS: tg.BusyboxURI},
	}}}
}

func ordinaryRecord(guid string, index int) func() *models.ActualLRP {
	return func() *models.ActualLRP {
		list, err := db.ActualLRPs(context.Background(), logger, models.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		for _, a := range list {
			if a.Index == index && a.Presence == models.PresenceOrdinary {
				return a
			}
		}
		return nil
	}
}

func state(a *models.ActualLRP) string {
	if a == nil {
		return "<none>"
	}
	return a.State
}

func sh(script string) *models.Action {
	return &models.Action{Run: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", script}}}
}

var _ = Describe("The rep", func() {
	Describe("presence", func() {
		It("keeps the cell present while it heartbeats, and the cell disappears when it stops", func() {
			c := startCell(cellOptions{id: "cell-presence", withPresence: true})
			cellIDs := func() []string {
				cells, err := db.Cells(context.Background(), logger)
				Expect(err).NotTo(HaveOccurred())
				var ids []string
				for _, c := range cells {
					ids = append(ids, c.CellID)
				}
				return ids
			}
			Eventually(cellIDs).Should(ContainElement("cell-presence"))
			Consistently(cellIDs, 3*time.Second, 200*time.Millisecond).Should(ContainElement("cell-presence"))
			c.stop()
			Eventually(cellIDs, 10*time.Second).ShouldNot(ContainElement("cell-presence"))
		})
	})

	Describe("state and work", func() {
		It("runs the work it can take, answers what it cannot, and reports truthfully", func() {
			c := startCell(cellOptions{id: "cell-work", capacity: executor.Resources{MemoryMB: 48, DiskMB: 1024, Containers: 5}, withProcessor: true, withPresence: true})
			desireLRP("fits", sh("sleep 300"), nil)
			work := lrpWork("fits", 0)
			big := lrpWork("fits", 0).LRPs[0]
			big.ProcessGuid, big.MemoryMB = "too-big", 4096
			work.LRPs = append(work.LRPs, big)

			client := repapi.NewClient(http.DefaultClient, c.url)
			failed, err := client.Perform(context.Background(), work)
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.LRPs).To(HaveLen(1))
			Expect(failed.LRPs[0].ProcessGuid).To(Equal("too-big"))

			Eventually(func() string { return state(ordinaryRecord("fits", 0)()) }, 30*time.Second).Should(Equal(models.ActualLRPStateRunning))
			record := ordinaryRecord("fits", 0)()
			Expect(record.CellID).To(Equal("cell-work"))

			cellState, err := client.State(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(cellState.Healthy).To(BeTrue())
			Expect(cellState.Zone).To(Equal("z9"))
			Expect(cellState.AvailableResources).To(Equal(repapi.Resources{MemoryMB: 16, DiskMB: 992, Containers: 4}))
			Expect(cellState.LRPs).To(ConsistOf(repapi.LRP{
				ActualLRPKey: models.ActualLRPKey{ProcessGuid: "fits", Index: 0, Domain: "rep-tests"},
				InstanceGuid: record.InstanceGuid, Resource: models.Resource{MemoryMB: 32, DiskMB: 32},
			}))

			By("stopping it when the BBS retires the index, once it is no longer desired")
			// Only the desired keys go, as when the converger finds records with
			// no desired LRP; RetireActualLRP refuses a still-desired index.
			for _, k := range []string{"/diego/v1/desired/schedule/fits", "/diego/v1/desired/run/fits"} {
				_, err := etcdCli.Delete(context.Background(), k)
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(db.RetireActualLRP(context.Background(), logger, record.ActualLRPKey)).To(Succeed())
			Eventually(ordinaryRecord("fits", 0), 20*time.Second).Should(BeNil())
			Eventually(c.exec.Containers, 20*time.Second).Should(BeEmpty())
		})

		It("reports a crash with its reason, and the BBS restarts it at once", func() {
			c := startCell(cellOptions{id: "cell-crash", withProcessor: true})
			desireLRP("crasher", sh("sleep 0.5; exit 3"), nil)
			c.rep.Perform(logger, lrpWork("crasher", 0))
			Eventually(func() int {
				a := ordinaryRecord("crasher", 0)()
				if a == nil {
					return 0
				}
				return a.CrashCount
			}, 30*time.Second).Should(BeNumerically(">=", 1))
			a := ordinaryRecord("crasher", 0)()
			Expect(a.CrashReason).To(Equal("Exited with status 3"))
			Eventually(c.exec.Containers, 20*time.Second).Should(BeEmpty())
		})

		It("runs a task and completes it with its result", func() {
			c := startCell(cellOptions{id: "cell-task", withProcessor: true})
			Expect(db.DesireTask(context.Background(), logger, "task-result", "rep-tests", &models.TaskDefinition{
				RootFS: tg.BusyboxURI, Action: sh("echo -n forty-two > /tmp/out"), ResultFile: "/tmp/out", MemoryMB: 16,
			})).To(Succeed())
			failed := c.rep.Perform(logger, repapi.Work{Tasks: []repapi.TaskWork{{
				TaskGuid: "task-result", Domain: "rep-tests", Resource: models.Resource{MemoryMB: 16},
				PlacementConstraint: models.PlacementConstraint{RootFS: tg.BusyboxURI},
			}}})
			Expect(failed.Tasks).To(BeEmpty())
			Eventually(func() string {
				t, err := db.TaskByGuid(context.Background(), logger, "task-result")
				Expect(err).NotTo(HaveOccurred())
				return t.State
			}, 30*time.Second).Should(Equal(models.TaskStateCompleted))
			t, _ := db.TaskByGuid(context.Background(), logger, "task-result")
			Expect(t.Failed).To(BeFalse())
			Expect(t.Result).To(Equal("forty-two"))
			Expect(t.CellID).To(Equal("cell-task"))
		})

		It("refuses work whose rootfs it does not offer, reserving nothing", func() {
			c := startCell(cellOptions{id: "cell-rootfs"})
			work := lrpWork("preloaded-only", 0)
			work.LRPs[0].RootFS = "preloaded:nothing-here"
			failed := c.rep.Perform(logger, work)
			Expect(failed.LRPs).To(HaveLen(1))
			Expect(c.exec.Containers()).To(BeEmpty())
		})
	})

	Describe("harmonising", func() {
		It("un-claims a record whose container is gone", func() {
			c := startCell(cellOptions{id: "cell-h1"})
			desireLRP("orphan-record", sh("sleep 300"), nil)
			key := models.ActualLRPKey{ProcessGuid: "orphan-record", Index: 0, Domain: "rep-tests"}
			Expect(db.ClaimActualLRP(context.Background(), logger, key, models.ActualLRPInstanceKey{InstanceGuid: "ghost", CellID: "cell-h1"})).To(Succeed())
			c.rep.Harmonize(context.Background())
			a := ordinaryRecord("orphan-record", 0)()
			Expect(a.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(a.InstanceGuid).To(BeEmpty())
		})

		It("marks RUNNING a running container whose record still says CLAIMED", func() {
			c := startCell(cellOptions{id: "cell-h2"}) // no processor: events are not reported
			desireLRP("late-start", sh("sleep 300"), nil)
			c.rep.Perform(logger, lrpWork("late-start", 0))
			Eventually(firstState(c), 30*time.Second).Should(Equal(executor.StateRunning))
			Expect(state(ordinaryRecord("late-start", 0)())).To(Equal(models.ActualLRPStateClaimed))
			c.rep.Harmonize(context.Background())
			Expect(state(ordinaryRecord("late-start", 0)())).To(Equal(models.ActualLRPStateRunning))
		})

		It("destroys a container whose record is gone, once past its reservation grace", func() {
			fake := fakeclock.NewFakeClock(time.Now())
			c := startCell(cellOptions{id: "cell-h3", repClock: fake})
			desireLRP("forgotten", sh("sleep 300"), nil)
			c.rep.Perform(logger, lrpWork("forgotten", 0))
			// Running: the start has read its desired LRP, so removing it now
			// leaves the container to the harmoniser alone (a start that finds
			// it gone drops the container itself, as it should).
			Eventually(firstState(c), 30*time.Second).Should(Equal(executor.StateRunning))
			Eventually(func() string { return state(ordinaryRecord("forgotten", 0)()) }, 20*time.Second).Should(Equal(models.ActualLRPStateClaimed))
			Expect(db.RemoveDesiredLRP(context.Background(), logger, "forgotten")).To(Succeed())
			Eventually(ordinaryRecord("forgotten", 0), 10*time.Second).Should(BeNil())

			c.rep.Harmonize(context.Background())
			Expect(c.exec.Containers()).To(HaveLen(1), "a young container is being claimed, not forgotten")
			fake.Increment(2 * time.Minute)
			c.rep.Harmonize(context.Background())
			Expect(c.exec.Containers()).To(BeEmpty())
		})
		It("removes an evacuating copy whose container is gone", func() {
			c := startCell(cellOptions{id: "cell-h4"})
			desireLRP("evac-orphan", sh("sleep 300"), nil)
			key := models.ActualLRPKey{ProcessGuid: "evac-orphan", Index: 0, Domain: "rep-tests"}
			instance := models.ActualLRPInstanceKey{InstanceGuid: "gone", CellID: "cell-h4"}
			Expect(db.ClaimActualLRP(context.Background(), logger, key, instance)).To(Succeed())
			Expect(db.StartActualLRP(context.Background(), logger, key, instance, models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []models.PortMapping{}}, true)).To(Succeed())
			keep, err := db.EvacuateRunningActualLRP(context.Background(), logger, key, instance, models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []models.PortMapping{}})
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())
			c.rep.Harmonize(context.Background())
			list, err := db.ActualLRPs(context.Background(), logger, models.ActualLRPFilter{ProcessGuid: "evac-orphan"})
			Expect(err).NotTo(HaveOccurred())
			for _, a := range list {
				Expect(a.Presence).NotTo(Equal(models.PresenceEvacuating))
			}
		})

		It("fails a task the BBS says runs here when no container runs it", func() {
			c := startCell(cellOptions{id: "cell-h5"})
			Expect(db.DesireTask(context.Background(), logger, "task-lost", "rep-tests", &models.TaskDefinition{
				RootFS: tg.BusyboxURI, Action: sh("true"), MemoryMB: 16,
			})).To(Succeed())
			started, err := db.StartTask(context.Background(), logger, "task-lost", "cell-h5")
			Expect(err).NotTo(HaveOccurred())
			Expect(started).To(BeTrue())
			c.rep.Harmonize(context.Background())
			t, err := db.TaskByGuid(context.Background(), logger, "task-lost")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.State).To(Equal(models.TaskStateCompleted))
			Expect(t.Failed).To(BeTrue())
			Expect(t.FailureReason).To(Equal("the task's container disappeared"))
		})

		It("destroys the container of a task that was cancelled meanwhile", func() {
			c := startCell(cellOptions{id: "cell-h6"}) // no presence: the BBS cannot reach it to cancel
			Expect(db.DesireTask(context.Background(), logger, "task-cancelled", "rep-tests", &models.TaskDefinition{
				RootFS: tg.BusyboxURI, Action: sh("sleep 300"), MemoryMB: 16,
			})).To(Succeed())
			c.rep.Perform(logger, repapi.Work{Tasks: []repapi.TaskWork{{
				TaskGuid: "task-cancelled", Domain: "rep-tests", Resource: models.Resource{MemoryMB: 16},
				PlacementConstraint: models.PlacementConstraint{RootFS: tg.BusyboxURI},
			}}})
			Eventually(func() string {
				t, err := db.TaskByGuid(context.Background(), logger, "task-cancelled")
				Expect(err).NotTo(HaveOccurred())
				return t.State
			}, 20*time.Second).Should(Equal(models.TaskStateRunning))
			Expect(db.CancelTask(context.Background(), logger, "task-cancelled")).To(Succeed())
			Expect(c.exec.Containers()).To(HaveLen(1))
			c.rep.Harmonize(context.Background())
			Expect(c.exec.Containers()).To(BeEmpty())
		})
	})

	Describe("a restart", func() {
		It("adopts the containers garden still holds instead of killing them", func() {
			first := startCell(cellOptions{id: "cell-adopt", withProcessor: true})
			desireLRP("survivor", sh("sleep 300"), nil)
			first.rep.Perform(logger, lrpWork("survivor", 0))
			Eventually(func() string { return state(ordinaryRecord("survivor", 0)()) }, 30*time.Second).Should(Equal(models.ActualLRPStateRunning))
			instance := ordinaryRecord("survivor", 0)().InstanceGuid
			first.stop()

			second := startCell(cellOptions{id: "cell-adopt", withProcessor: true})
			n, err := second.exec.Adopt(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(1))
			second.rep.Harmonize(context.Background())
			Consistently(func() string { return state(ordinaryRecord("survivor", 0)()) }, 2*time.Second).Should(Equal(models.ActualLRPStateRunning))
			Expect(ordinaryRecord("survivor", 0)().InstanceGuid).To(Equal(instance))
			Expect(second.rep.State(context.Background()).LRPs).To(HaveLen(1))
		})
	})

	Describe("evacuation", func() {
		It("keeps an instance routable until its replacement runs, then drains and finishes", func() {
			c := startCell(cellOptions{id: "cell-evac", withProcessor: true})
			desireLRP("mover", sh("sleep 300"), nil)
			c.rep.Perform(logger, lrpWork("mover", 0))
			Eventually(func() string { return state(ordinaryRecord("mover", 0)()) }, 30*time.Second).Should(Equal(models.ActualLRPStateRunning))

			c.rep.Evacuate()
			Expect(c.rep.State(context.Background()).Evacuating).To(BeTrue())
			Expect(c.rep.Perform(logger, lrpWork("mover", 1)).LRPs).To(HaveLen(1), "an evacuating cell takes no work")

			evacuating := func() *models.ActualLRP {
				list, err := db.ActualLRPs(context.Background(), logger, models.ActualLRPFilter{ProcessGuid: "mover"})
				Expect(err).NotTo(HaveOccurred())
				for _, a := range list {
					if a.Presence == models.PresenceEvacuating {
						return a
					}
				}
				return nil
			}
			Eventually(evacuating, 10*time.Second).ShouldNot(BeNil())
			Expect(evacuating().Routable).To(BeTrue())
			Expect(state(ordinaryRecord("mover", 0)())).To(Equal(models.ActualLRPStateUnclaimed))
			Consistently(c.rep.Evacuated(), time.Second).ShouldNot(BeClosed())
			Expect(c.exec.Containers()).To(HaveLen(1))

			By("another cell starting the replacement")
			key := models.ActualLRPKey{ProcessGuid: "mover", Index: 0, Domain: "rep-tests"}
			other := models.ActualLRPInstanceKey{InstanceGuid: "replacement", CellID: "cell-elsewhere"}
			Expect(db.ClaimActualLRP(context.Background(), logger, key, other)).To(Succeed())
			Expect(db.StartActualLRP(context.Background(), logger, key, other, models.ActualLRPNetInfo{Address: "10.0.0.9", Ports: []models.PortMapping{}}, true)).To(Succeed())

			Eventually(c.rep.Evacuated(), 20*time.Second).Should(BeClosed())
			Expect(c.exec.Containers()).To(BeEmpty())
			Eventually(evacuating, 10*time.Second).Should(BeNil())
			Expect(ordinaryRecord("mover", 0)().InstanceGuid).To(Equal("replacement"))
		})
	})
})

var _ = Describe("A rep whose garden does not answer", func() {
	It("reports itself unhealthy with nothing available, and takes no work", func() {
		cfg := rep.DefaultConfig()
		cfg.CellID = "cell-no-garden"
		cfg.Executor.CellID = cfg.CellID
		exec := executor.New(logger, cfg.Executor, garden.NewClient("/nonexistent/garden.sock"), nil, nil, clock.NewClock())
		r := rep.New(logger, cfg, db, exec, clock.NewClock())

		state := r.State(context.Background())
		Expect(state.Healthy).To(BeFalse())
		Expect(state.AvailableResources).To(Equal(repapi.Resources{}))
		failed := r.Perform(logger, lrpWork("anything", 0))
		Expect(failed.LRPs).To(HaveLen(1))
		Expect(exec.Containers()).To(BeEmpty())
	})
})

// firstState polls the state of the cell's first container ("" while none).
func firstState(c *cell) func() executor.State {
	return func() executor.State {
		list := c.exec.Containers()
		if len(list) == 0 {
			return ""
		}
		return list[0].State
	}
}
