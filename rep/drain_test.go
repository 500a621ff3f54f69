package rep_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep"
)

var _ = Describe("Stopping a running instance", func() {
	const (
		drainDelay = time.Second
		grace      = 3 * time.Second
	)

	// start runs one instance of guid on a cell the BBS can reach, and
	// returns the cell and the instance's guid once it is RUNNING and routable.
	start := func(cellID, guid, script string) (*cell, string) {
		c := startCell(cellOptions{id: cellID, withProcessor: true, withPresence: true, drainDelay: drainDelay, grace: grace})
		desireLRP(guid, sh(script), nil)
		c.rep.Perform(logger, lrpWork(guid, 0))
		Eventually(func() bool {
			a := ordinaryRecord(guid, 0)()
			return a != nil && a.State == models.ActualLRPStateRunning && a.Routable
		}, 30*time.Second).Should(BeTrue())
		return c, ordinaryRecord(guid, 0)().InstanceGuid
	}

	containerRunning := func(c *cell, guid string) bool {
		ctr, ok := c.exec.Get(guid)
		return ok && ctr.State == executor.StateRunning
	}

	DescribeTable("on a scale-down: leaves the routes at once, gets SIGTERM after the drain delay, SIGKILL after the grace period",
		func(script string, atLeast, below time.Duration) {
			guid := "leaver"
			c, instance := start("cell-drain", guid, script)
			zero := 0
			asked := time.Now()
			Expect(db.UpdateDesiredLRP(context.Background(), logger, guid, models.DesiredLRPUpdate{Instances: &zero})).To(Succeed())

			By("making its record unroutable while its container still runs")
			Eventually(func() bool {
				a := ordinaryRecord(guid, 0)()
				return a != nil && a.InstanceGuid == instance && a.State == models.ActualLRPStateRunning && !a.Routable
			}, drainDelay/2, 20*time.Millisecond).Should(BeTrue())
			Expect(containerRunning(c, instance)).To(BeTrue())

			By("keeping it up for the drain delay")
			Consistently(func() bool { return containerRunning(c, instance) }, drainDelay-time.Since(asked)-100*time.Millisecond).Should(BeTrue())

			By("stopping it after the delay, and removing its record")
			Eventually(ordinaryRecord(guid, 0), 2*(drainDelay+grace)).Should(BeNil())
			elapsed := time.Since(asked)
			Expect(elapsed).To(BeNumerically(">=", atLeast))
			Expect(elapsed).To(BeNumerically("<", below))
		},
		Entry("a process that exits on SIGTERM is gone soon after the drain delay",
			"trap 'exit 0' TERM; while true; do sleep 0.1; done", drainDelay, drainDelay+grace),
		Entry("a process that ignores SIGTERM is killed after the grace period",
			"trap '' TERM; while true; do sleep 0.1; done", drainDelay+grace, 2*(drainDelay+grace)),
	)

	It("on a kill of its index: leaves the routes with the record handed on, never writes it back, and stops after the drain delay", func() {
		guid := "killed"
		c, instance := start("cell-kill", guid, "trap 'exit 0' TERM; while true; do sleep 0.1; done")
		key := models.ActualLRPKey{ProcessGuid: guid, Index: 0, Domain: "rep-tests"}
		asked := time.Now()
		Expect(db.KillActualLRP(context.Background(), logger, key)).To(Succeed())
		Expect(state(ordinaryRecord(guid, 0)())).To(Equal(models.ActualLRPStateUnclaimed))
		Expect(containerRunning(c, instance)).To(BeTrue())
		Consistently(func() bool { return containerRunning(c, instance) }, drainDelay-time.Since(asked)-100*time.Millisecond).Should(BeTrue())
		Eventually(func() bool { _, ok := c.exec.Get(instance); return ok }, drainDelay+grace+5*time.Second).Should(BeFalse())
		Expect(state(ordinaryRecord(guid, 0)())).To(Equal(models.ActualLRPStateUnclaimed), "the record stays the replacement's")
	})

	It("answers 404 for an instance the cell does not hold", func() {
		c := startCell(cellOptions{id: "cell-none"})
		Expect(c.rep.StopLRPInstance("no-such-instance")).To(MatchError(models.ErrActualLRPIndexNotFound))
	})
})

var _ = Describe("The rep's drain config", func() {
	It("defaults to a 2 s drain delay and refuses a negative one", func() {
		cfg := rep.DefaultConfig()
		Expect(cfg.DrainDelay).To(Equal(2 * time.Second))
		Expect(cfg.Executor.GracePeriod).To(Equal(10 * time.Second))
		cfg.CellID = "c"
		Expect(cfg.Validate()).To(Succeed())
		cfg.DrainDelay = -time.Second
		Expect(cfg.Validate()).To(MatchError(ContainSubstring("drain_delay")))
	})

	It("puts the cell's isolation segment in its presence", func() {
		c := startCell(cellOptions{id: "cell-iso"})
		Expect(c.rep.PresenceRecord().IsolationSegment).To(BeEmpty())
		cfg := c.cfg
		cfg.IsolationSegment = "secure"
		r := rep.New(logger, cfg, db, c.exec, nil)
		Expect(r.PresenceRecord().IsolationSegment).To(Equal("secure"))
	})
})
