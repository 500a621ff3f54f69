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

	DescribeTable("one look at three wanted instances decides whether to go on",
		func(lrps []*models.ActualLRP, done bool, cause string) {
			v := newWatch("web", 3, DefaultMaxCrashes).observe(lrps, t0)
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

	It("gives up on placement only once every unclaimed instance has carried a placement error for two seconds", func() {
		w := newWatch("web", 3, DefaultMaxCrashes)
		noRoom := "insufficient resources: memory"
		first := []*models.ActualLRP{instance(0, running, 0, "", ""), instance(1, unclaimed, 0, "", noRoom), instance(2, unclaimed, 0, "", "")}
		Expect(w.observe(first, t0).giveUp).To(BeNil())
		second := []*models.ActualLRP{instance(0, running, 0, "", ""), instance(1, unclaimed, 0, "", noRoom), instance(2, unclaimed, 0, "", noRoom)}
		Expect(w.observe(second, t0.Add(time.Second)).giveUp).To(BeNil())
		Expect(w.observe(second, t0.Add(2*time.Second)).giveUp).To(BeNil(), "index 2 has had its error for one second only")
		v := w.observe(second, t0.Add(3*time.Second))
		Expect(v.giveUp).To(MatchError("web: 2 instance(s) cannot be placed: insufficient resources: memory"))
	})

	It("starts the two seconds again when an instance loses its placement error", func() {
		w := newWatch("web", 1, DefaultMaxCrashes)
		stuck := []*models.ActualLRP{instance(0, unclaimed, 0, "", "no cells")}
		Expect(w.observe(stuck, t0).giveUp).To(BeNil())
		Expect(w.observe([]*models.ActualLRP{instance(0, unclaimed, 0, "", "")}, t0.Add(time.Second)).giveUp).To(BeNil())
		Expect(w.observe(stuck, t0.Add(2*time.Second)).giveUp).To(BeNil())
		Expect(w.observe(stuck, t0.Add(4*time.Second)).giveUp).To(MatchError(ContainSubstring("no cells")))
	})

	It("gives the latest crash reason when it gives up", func() {
		w := newWatch("web", 2, 3)
		older := instance(0, crashed, 3, "Exited with status 2", "")
		newer := instance(1, crashed, 3, "out of memory", "")
		older.Since, newer.Since = 10, 20
		v := w.observe([]*models.ActualLRP{older, newer}, t0)
		Expect(v.giveUp).To(MatchError("web: every instance crashed 3 times or more: out of memory"))
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
