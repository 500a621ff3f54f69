package converger_test

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/models"
)

// fastConfig converges every 200 ms with limits short enough to watch each rule fire.
func fastConfig() converger.Config {
	return converger.Config{
		Interval: 200 * time.Millisecond,
		Rules: converger.Rules{
			StaleUnclaimedTimeout:  300 * time.Millisecond,
			TaskKickInterval:       300 * time.Millisecond,
			PendingTaskExpiry:      time.Hour,
			CompletedTaskRetention: time.Hour,
			ResolvingTaskTimeout:   300 * time.Millisecond,
			AbsentCellTaskGrace:    300 * time.Millisecond,
		},
	}
}

var _ = Describe("Converger", func() {
	var w *world

	BeforeEach(func() {
		w = newWorld()
		Expect(w.db.UpsertDomain(w.ctx, w.logger, freshDomain, 0)).To(Succeed())
	})

	Context("when an index has no record", func() {
		It("creates it UNCLAIMED and asks for its auction", func() {
			w.desire("web", freshDomain, 2, nil)
			deleteActual("web", 1)
			before := w.auctioneer.lrpAuctions("web", 1)
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 1)).Should(ConsistOf("ORDINARY UNCLAIMED "))
			Eventually(func() int { return w.auctioneer.lrpAuctions("web", 1) }).Should(BeNumerically(">", before))
		})

		It("reports the pass as metrics and one log line with its counts", func() {
			w.desire("web", freshDomain, 3, nil)
			deleteActual("web", 1)
			deleteActual("web", 2)
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 2)).Should(ConsistOf("ORDINARY UNCLAIMED "))
			Eventually(func() float64 { return w.metric("diego_converger_actions_total", "missing") }).Should(Equal(2.0))
			Expect(w.metric("diego_converger_passes_total", "")).To(BeNumerically(">=", 1))
			Expect(w.metric("diego_converger_pass_duration_seconds", "")).To(BeNumerically(">=", 1))
			Eventually(w.passLogs).Should(ContainElement(And(
				HaveKeyWithValue("missing", BeNumerically("==", 2)),
				HaveKeyWithValue("suspect_marked", BeNumerically("==", 0)),
				HaveKey("duration"), HaveKey("tasks_failed"), HaveKey("conflicts"))))
		})
	})

	Context("when an UNCLAIMED record is older than the stale limit", func() {
		It("auctions it again", func() {
			w.desire("web", freshDomain, 1, nil)
			Expect(w.auctioneer.lrpAuctions("web", 0)).To(Equal(1))
			w.start(fastConfig())
			Eventually(func() int { return w.auctioneer.lrpAuctions("web", 0) }).Should(BeNumerically(">=", 2))
			Expect(w.records("web", 0)).To(ConsistOf("ORDINARY UNCLAIMED "))
		})
	})

	Context("when a CRASHED record is past its backoff", func() {
		It("restarts it under the LRP's restart policy", func() {
			w.register("cell-a", 30)
			w.desire("web", freshDomain, 1, &models.RestartPolicy{ImmediateRestarts: 1, BaseBackoffMs: 300, MaxBackoffMs: 300, MaxRestarts: 10})
			w.run("web", 0, "cell-a")
			key := models.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: freshDomain}
			Expect(w.db.CrashActualLRP(w.ctx, w.logger, key, instanceOf("web", 0, "cell-a"), "Exited with status 1")).To(Succeed())
			Expect(w.records("web", 0)).To(ConsistOf("ORDINARY CRASHED "))
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 0)).Should(ConsistOf("ORDINARY UNCLAIMED "))
			Eventually(func() int { return w.auctioneer.lrpAuctions("web", 0) }).Should(BeNumerically(">=", 2))
		})
	})

	Context("when a cell's presence disappears", func() {
		BeforeEach(func() {
			w.register("cell-a", 1)
			w.register("cell-b", 30)
			w.desire("web", freshDomain, 1, nil)
			w.run("web", 0, "cell-a")
		})

		It("marks its instances SUSPECT and auctions replacements at once, not at the next interval", func() {
			slow := fastConfig()
			slow.Interval = time.Hour
			w.start(slow)
			Consistently(w.recordsFn("web", 0), 200*time.Millisecond).Should(ConsistOf("ORDINARY RUNNING cell-a"))
			auctions := w.auctioneer.lrpAuctions("web", 0)
			// cell-a stops heartbeating: its lease expires within ~1 s.
			Eventually(w.recordsFn("web", 0), 5*time.Second).Should(ConsistOf("SUSPECT RUNNING cell-a", "ORDINARY UNCLAIMED "))
			Eventually(func() int { return w.auctioneer.lrpAuctions("web", 0) }).Should(BeNumerically(">", auctions))
		})

		It("drops the SUSPECT once the replacement runs", func() {
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 0), 5*time.Second).Should(ConsistOf("SUSPECT RUNNING cell-a", "ORDINARY UNCLAIMED "))
			w.run("web", 0, "cell-b")
			Eventually(w.recordsFn("web", 0)).Should(ConsistOf("ORDINARY RUNNING cell-b"))
		})

		It("drops a SUSPECT left beside a RUNNING replacement", func() {
			// StartActualLRP drops the suspect itself; this is the state a lost
			// race or an older BBS leaves, which only the converger cleans up.
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 0), 5*time.Second).Should(ConsistOf("SUSPECT RUNNING cell-a", "ORDINARY UNCLAIMED "))
			w.run("web", 0, "cell-b")
			suspect := extra("web", 0, freshDomain)
			suspect.State, suspect.Presence, suspect.ActualLRPInstanceKey = models.ActualLRPStateRunning, models.PresenceSuspect, instanceOf("web", 0, "cell-a")
			putRecord(suspect, "suspect")
			Expect(w.records("web", 0)).To(ConsistOf("SUSPECT RUNNING cell-a", "ORDINARY RUNNING cell-b"))
			Eventually(w.recordsFn("web", 0)).Should(ConsistOf("ORDINARY RUNNING cell-b"))
			Eventually(func() float64 { return w.metric("diego_converger_actions_total", "suspect_removed") }).Should(Equal(1.0))
		})

		It("does the same through the BBS HTTP API", func() {
			w.startOverHTTP(fastConfig())
			Eventually(w.recordsFn("web", 0), 5*time.Second).Should(ConsistOf("SUSPECT RUNNING cell-a", "ORDINARY UNCLAIMED "))
			w.run("web", 0, "cell-b")
			Eventually(w.recordsFn("web", 0)).Should(ConsistOf("ORDINARY RUNNING cell-b"))
		})

		It("moves the suspect on when the replacement's own cell vanishes too", func() {
			leaseB := w.register("cell-b2", 30)
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 0), 5*time.Second).Should(ConsistOf("SUSPECT RUNNING cell-a", "ORDINARY UNCLAIMED "))
			w.run("web", 0, "cell-b2")
			_, err := etcdClient.Revoke(w.ctx, clientv3.LeaseID(leaseB))
			Expect(err).NotTo(HaveOccurred())
			Eventually(w.recordsFn("web", 0)).Should(ConsistOf("SUSPECT RUNNING cell-b2", "ORDINARY UNCLAIMED "))
		})

		It("promotes the SUSPECT back when its cell returns before the replacement runs", func() {
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 0), 5*time.Second).Should(ConsistOf("SUSPECT RUNNING cell-a", "ORDINARY UNCLAIMED "))
			w.register("cell-a", 30)
			Eventually(w.recordsFn("web", 0)).Should(ConsistOf("ORDINARY RUNNING cell-a"))
		})
	})

	Context("when an EVACUATING copy's cell is gone", func() {
		It("removes the copy, since its rep cannot", func() {
			w.register("cell-b", 30)
			w.desire("web", freshDomain, 1, nil)
			w.run("web", 0, "cell-b")
			evacuating := extra("web", 0, freshDomain)
			evacuating.State, evacuating.Presence, evacuating.Evacuating = models.ActualLRPStateRunning, models.PresenceEvacuating, true
			evacuating.ActualLRPInstanceKey = instanceOf("web", 0, "cell-gone")
			putRecord(evacuating, "evacuating")
			Expect(w.records("web", 0)).To(ConsistOf("EVACUATING RUNNING cell-gone", "ORDINARY RUNNING cell-b"))
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 0)).Should(ConsistOf("ORDINARY RUNNING cell-b"))
		})
	})

	Context("when records outnumber the desired instances", func() {
		BeforeEach(func() {
			Expect(w.db.UpsertDomain(w.ctx, w.logger, staleDomain, 1)).To(Succeed())
			w.desire("web", freshDomain, 1, nil)
			w.desire("old", staleDomain, 1, nil)
			for _, a := range []*models.ActualLRP{
				extra("web", 3, freshDomain), extra("orphan", 0, freshDomain),
				extra("old", 3, staleDomain), extra("old-orphan", 0, staleDomain),
			} {
				putActual(a)
			}
			// the stale domain's TTL runs out.
			Eventually(func() []string {
				domains, err := w.db.Domains(w.ctx, w.logger)
				Expect(err).NotTo(HaveOccurred())
				return domains
			}, 5*time.Second).Should(ConsistOf(freshDomain))
		})

		It("retires the extras of fresh domains only", func() {
			w.register("cell-a", 30)
			running := extra("web", 4, freshDomain)
			running.State, running.ActualLRPInstanceKey = models.ActualLRPStateRunning, instanceOf("web", 4, "cell-a")
			putActual(running)
			w.start(fastConfig())
			Eventually(w.recordsFn("web", 3)).Should(BeEmpty())
			Eventually(w.reps.stops).Should(ContainElement(running.ActualLRPKey), "a running extra is stopped through its rep")
			Eventually(w.recordsFn("orphan", 0)).Should(BeEmpty())
			Consistently(w.recordsFn("old", 3), time.Second).Should(ConsistOf("ORDINARY UNCLAIMED "))
			Expect(w.records("old-orphan", 0)).To(ConsistOf("ORDINARY UNCLAIMED "))
		})
	})

	Context("tasks", func() {
		BeforeEach(func() { w.register("cell-a", 30) })

		desireTask := func(guid string) {
			Expect(w.db.DesireTask(w.ctx, w.logger, guid, freshDomain, &models.TaskDefinition{
				RootFS: "docker:///library/busybox", MemoryMB: 16, DiskMB: 16,
				Action: &models.Action{Run: &models.RunAction{Path: "/bin/true"}},
			})).To(Succeed())
		}
		taskState := func(guid string) func() string {
			return func() string {
				t, err := w.db.TaskByGuid(w.ctx, w.logger, guid)
				if err != nil {
					return err.Error()
				}
				if t.Failed {
					return t.State + " failed: " + t.FailureReason
				}
				return t.State
			}
		}

		It("auctions PENDING tasks again after the kick interval", func() {
			desireTask("pending")
			w.start(fastConfig())
			Eventually(func() int { return w.auctioneer.taskAuctions("pending") }).Should(BeNumerically(">=", 2))
		})

		It("fails PENDING tasks past the expiry", func() {
			desireTask("expiring")
			cfg := fastConfig()
			cfg.Rules.PendingTaskExpiry = 500 * time.Millisecond
			w.start(cfg)
			Eventually(taskState("expiring")).Should(Equal("COMPLETED failed: not started within time limit"))
		})

		It("fails RUNNING tasks whose cell disappeared", func() {
			desireTask("orphaned")
			w.register("cell-short", 1)
			shouldStart, err := w.db.StartTask(w.ctx, w.logger, "orphaned", "cell-short")
			Expect(err).NotTo(HaveOccurred())
			Expect(shouldStart).To(BeTrue())
			w.start(fastConfig())
			Eventually(taskState("orphaned"), 5*time.Second).Should(Equal("COMPLETED failed: cell disappeared before completion"))
		})

		It("reverts RESOLVING tasks stuck past the timeout, and deletes COMPLETED ones past retention", func() {
			desireTask("stuck")
			_, err := w.db.StartTask(w.ctx, w.logger, "stuck", "cell-a")
			Expect(err).NotTo(HaveOccurred())
			Expect(w.db.CompleteTask(w.ctx, w.logger, "stuck", "cell-a", false, "", "42")).To(Succeed())
			Expect(w.db.ResolvingTask(w.ctx, w.logger, "stuck")).To(Succeed())
			cfg := fastConfig()
			cfg.Rules.CompletedTaskRetention = 3 * time.Second
			w.start(cfg)
			Eventually(taskState("stuck")).Should(Equal("COMPLETED"))
			Eventually(taskState("stuck"), 5*time.Second).Should(ContainSubstring("TaskNotFound"))
		})
	})
})

func instanceOf(guid string, index int, cellID string) models.ActualLRPInstanceKey {
	return models.ActualLRPInstanceKey{InstanceGuid: guid + "-" + strconv.Itoa(index) + "-" + cellID, CellID: cellID}
}

func extra(guid string, index int, domain string) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLRPKey: models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: domain},
		State:        models.ActualLRPStateUnclaimed, Presence: models.PresenceOrdinary, Since: time.Now().UnixNano(),
		ModificationTag: models.ModificationTag{Epoch: "test", Index: 1},
	}
}
