package cli

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

// instance is an ordinary actual LRP of app "web" for the watch's tables.
func instance(index int, state string, crashes int, reason, placement string) *models.ActualLRP {
	return &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "web", Index: index}, State: state, CrashCount: crashes,
		CrashReason: reason, PlacementError: placement, Since: int64(index + 1)}
}

const (
	running   = models.ActualLRPStateRunning
	crashed   = models.ActualLRPStateCrashed
	unclaimed = models.ActualLRPStateUnclaimed
	claimed   = models.ActualLRPStateClaimed
)

var _ = Describe("Waiting for an app's instances", func() {
	t0 := time.Unix(1_000_000, 0)

	// fresh is how a just-created app's n instances first look.
	fresh := func(n int) []*models.ActualLRP {
		var lrps []*models.ActualLRP
		for i := 0; i < n; i++ {
			lrps = append(lrps, instance(i, unclaimed, 0, "", ""))
		}
		return lrps
	}

	DescribeTable("a look at three wanted instances of a new app decides whether to go on",
		func(lrps []*models.ActualLRP, done bool, cause string) {
			w := newWatch("web", 3, DefaultMaxCrashes)
			w.observe(fresh(3), t0)
			v := w.observe(lrps, t0)
			Expect(v.done).To(Equal(done))
			if cause == "" {
				Expect(v.giveUp).To(BeNil())
				return
			}
			Expect(v.giveUp).NotTo(BeNil())
			Expect(v.giveUp.Cause).To(Equal(cause))
		},
		Entry("all running: done",
			[]*models.ActualLRP{instance(0, running, 0, "", ""), instance(1, running, 0, "", ""), instance(2, running, 0, "", "")}, true, ""),
		Entry("one still starting: go on",
			[]*models.ActualLRP{instance(0, running, 0, "", ""), instance(1, running, 0, "", ""), instance(2, claimed, 0, "", "")}, false, ""),
		Entry("one not there yet: go on",
			[]*models.ActualLRP{instance(0, running, 0, "", ""), instance(1, running, 0, "", "")}, false, ""),
		Entry("an extra instance still stopping: go on",
			[]*models.ActualLRP{instance(0, running, 0, "", ""), instance(1, running, 0, "", ""), instance(2, running, 0, "", ""), instance(3, running, 0, "", "")}, false, ""),
		Entry("every instance crashed three times: give up",
			[]*models.ActualLRP{instance(0, crashed, 3, "Exited with status 1", ""), instance(1, crashed, 4, "Exited with status 1", ""), instance(2, unclaimed, 3, "Exited with status 1", "")},
			false, "every instance crashed 3 times or more"),
		Entry("two crashed out, one only twice: go on",
			[]*models.ActualLRP{instance(0, crashed, 3, "Exited with status 1", ""), instance(1, crashed, 3, "Exited with status 1", ""), instance(2, claimed, 2, "Exited with status 1", "")}, false, ""),
		Entry("crashed three times each but one runs again: go on",
			[]*models.ActualLRP{instance(0, crashed, 3, "Exited with status 1", ""), instance(1, crashed, 3, "Exited with status 1", ""), instance(2, running, 3, "Exited with status 1", "")}, false, ""),
		Entry("an instance missing while the others crashed out: go on",
			[]*models.ActualLRP{instance(0, crashed, 3, "Exited with status 1", ""), instance(1, crashed, 3, "Exited with status 1", "")}, false, ""),
		Entry("a placement error seen only now: go on",
			[]*models.ActualLRP{instance(0, unclaimed, 0, "", "insufficient resources: memory"), instance(1, unclaimed, 0, "", "insufficient resources: memory"), instance(2, unclaimed, 0, "", "insufficient resources: memory")}, false, ""),
	)

	It("gives up on placement once an unclaimed instance has carried a placement error for a second, while others still wait", func() {
		w := newWatch("web", 3, DefaultMaxCrashes)
		noRoom := "insufficient resources: memory"
		first := []*models.ActualLRP{instance(0, running, 0, "", ""), instance(1, unclaimed, 0, "", noRoom), instance(2, unclaimed, 0, "", "")}
		Expect(w.observe(first, t0).giveUp).To(BeNil())
		Expect(w.observe(first, t0.Add(500*time.Millisecond)).giveUp).To(BeNil(), "index 1 has had its error for half a second only")
		v := w.observe(first, t0.Add(time.Second))
		Expect(v.giveUp).To(MatchError("web: 1 instance(s) cannot be placed: insufficient resources: memory"),
			"index 2 has not been auctioned yet, but index 1 alone keeps the wait from ending")
	})

	It("starts the second again when an instance loses its placement error", func() {
		w := newWatch("web", 1, DefaultMaxCrashes)
		stuck := []*models.ActualLRP{instance(0, unclaimed, 0, "", "no cells")}
		Expect(w.observe(stuck, t0).giveUp).To(BeNil())
		Expect(w.observe([]*models.ActualLRP{instance(0, unclaimed, 0, "", "")}, t0.Add(500*time.Millisecond)).giveUp).To(BeNil())
		Expect(w.observe(stuck, t0.Add(time.Second)).giveUp).To(BeNil())
		Expect(w.observe(stuck, t0.Add(2*time.Second)).giveUp).To(MatchError(ContainSubstring("no cells")))
	})

	It("gives the latest crash reason when it gives up", func() {
		w := newWatch("web", 2, 3)
		w.observe(fresh(2), t0)
		older := instance(0, crashed, 3, "Exited with status 2", "")
		newer := instance(1, crashed, 3, "out of memory", "")
		older.Since, newer.Since = 10, 20
		v := w.observe([]*models.ActualLRP{older, newer}, t0)
		Expect(v.giveUp).To(MatchError("web: every instance crashed 3 times or more: out of memory"))
	})

	It("counts only crashes during the wait: an app that crashed out before gets its restart", func() {
		w := newWatch("web", 1, 3)
		before := []*models.ActualLRP{instance(0, crashed, 3, "error preparing rootfs", "")}
		v := w.observe(before, t0)
		Expect(v.giveUp).To(BeNil())
		Expect(v.notes).To(Equal([]string{"  web/0 crashed 3 times: error preparing rootfs"}))
		Expect(w.observe([]*models.ActualLRP{instance(0, claimed, 3, "error preparing rootfs", "")}, t0.Add(30*time.Second)).giveUp).To(BeNil())
		v = w.observe([]*models.ActualLRP{instance(0, crashed, 4, "Exited with status 1", "")}, t0.Add(40*time.Second))
		Expect(v.giveUp).To(MatchError("web: every instance crashed 3 times or more: Exited with status 1"))
	})

	It("keeps the latest trouble of an instance that is not running, for a wait that times out", func() {
		w := newWatch("web", 2, 3)
		v := w.observe([]*models.ActualLRP{instance(0, running, 1, "Exited with status 9", ""), instance(1, claimed, 0, "", "")}, t0)
		Expect(v.lastTrouble).To(BeEmpty(), "a running instance's old crash is no trouble")
		v = w.observe([]*models.ActualLRP{instance(0, running, 1, "Exited with status 9", ""), instance(1, crashed, 1, "out of memory", "")}, t0)
		Expect(v.lastTrouble).To(Equal("out of memory"))
		v = w.observe([]*models.ActualLRP{instance(0, running, 1, "Exited with status 9", ""), instance(1, unclaimed, 1, "out of memory", "no room")}, t0)
		Expect(v.lastTrouble).To(Equal("no room"), "a placement error is the news")
	})

	It("never gives up on crashes with --max-crashes 0", func() {
		w := newWatch("web", 1, 0)
		Expect(w.observe([]*models.ActualLRP{instance(0, crashed, 50, "Exited with status 1", "")}, t0).giveUp).To(BeNil())
	})

	It("tells each failing instance's latest crash or placement error once, as it changes", func() {
		w := newWatch("web", 2, 5)
		v := w.observe([]*models.ActualLRP{instance(0, claimed, 0, "", ""), instance(1, unclaimed, 0, "", "")}, t0)
		Expect(v.notes).To(BeEmpty())

		v = w.observe([]*models.ActualLRP{instance(0, crashed, 1, "Exited with status 1", ""), instance(1, unclaimed, 0, "", "no room")}, t0)
		Expect(v.notes).To(Equal([]string{"  web/0 crashed 1 time: Exited with status 1", "  web/1 cannot be placed: no room"}))
		Expect(v.crashed).To(Equal(1))

		v = w.observe([]*models.ActualLRP{instance(0, unclaimed, 1, "Exited with status 1", ""), instance(1, unclaimed, 0, "", "no room")}, t0)
		Expect(v.notes).To(BeEmpty(), "nothing new: a restart keeps the last crash")

		v = w.observe([]*models.ActualLRP{instance(0, crashed, 2, "Exited with status 1", ""), instance(1, running, 0, "", "")}, t0)
		Expect(v.notes).To(Equal([]string{"  web/0 crashed 2 times: Exited with status 1"}))
		Expect(v.running).To(Equal(1))
	})

	It("ignores evacuating and suspect copies", func() {
		evacuating := instance(0, running, 0, "", "")
		evacuating.Presence = models.PresenceEvacuating
		v := newWatch("web", 1, 3).observe([]*models.ActualLRP{evacuating}, t0)
		Expect(v.running).To(BeZero())
		Expect(v.done).To(BeFalse())
	})
})
