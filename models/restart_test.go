package models_test

import (
	"fmt"
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Crash restart policy", func() {
	policy := models.DefaultRestartPolicy()
	now := time.Unix(1_700_000_000, 0)

	It("has the numbers of DESIGN 6.3", func() {
		Expect(policy).To(Equal(models.RestartPolicy{
			ImmediateRestarts: 3, BaseBackoffMs: 30_000, MaxBackoffMs: 960_000, MaxRestarts: 200, ResetAfterMs: 300_000,
		}))
	})

	// expectedDelay is DESIGN 6.3's formula computed independently, in float.
	expectedDelay := func(count int) time.Duration {
		if count < 3 {
			return 0
		}
		d := 30 * math.Pow(2, float64(count-3))
		return time.Duration(math.Min(d, 16*60)) * time.Second
	}

	var rows []TableEntry
	for count := 1; count <= 201; count++ {
		rows = append(rows, Entry(fmt.Sprintf("crash count %d", count), count))
	}
	DescribeTable("decides each crash count",
		func(count int) {
			Expect(policy.ShouldRestartImmediately(count)).To(Equal(count < 3))
			Expect(policy.RestartDelay(count)).To(Equal(expectedDelay(count)))
			if count < 3 {
				Expect(policy.StateAfterCrash(count)).To(Equal(models.ActualLRPStateUnclaimed))
			} else {
				Expect(policy.StateAfterCrash(count)).To(Equal(models.ActualLRPStateCrashed))
			}

			crashedAt := now.Add(-time.Hour)
			lrp := &models.ActualLRP{State: models.ActualLRPStateCrashed, CrashCount: count, Since: crashedAt.UnixNano()}
			due := crashedAt.Add(expectedDelay(count))
			restarts := count < 200
			Expect(policy.GivesUp(count)).To(Equal(!restarts))
			Expect(policy.ShouldRestartCrashed(lrp, due)).To(Equal(restarts))
			Expect(policy.ShouldRestartCrashed(lrp, due.Add(time.Hour))).To(Equal(restarts))
			if expectedDelay(count) > 0 {
				Expect(policy.ShouldRestartCrashed(lrp, due.Add(-time.Nanosecond))).To(BeFalse())
			}
			at, ok := policy.RestartAt(lrp)
			Expect(ok).To(Equal(restarts))
			if ok {
				Expect(at).To(BeTemporally("==", due))
			}
		},
		rows,
	)

	DescribeTable("known delays",
		func(count int, want time.Duration) {
			Expect(policy.RestartDelay(count)).To(Equal(want))
		},
		Entry("3: 30 s", 3, 30*time.Second),
		Entry("4: 1 min", 4, time.Minute),
		Entry("5: 2 min", 5, 2*time.Minute),
		Entry("7: 8 min", 7, 8*time.Minute),
		Entry("8: 16 min", 8, 16*time.Minute),
		Entry("9: capped at 16 min", 9, 16*time.Minute),
		Entry("a huge count: capped, no overflow", math.MaxInt32, 16*time.Minute),
	)

	DescribeTable("NewCrashCount",
		func(prev int, ranFor time.Duration, wasRunning bool, want int) {
			Expect(policy.NewCrashCount(prev, now.Add(-ranFor), now, wasRunning)).To(Equal(want))
		},
		Entry("first crash", 0, time.Duration(0), false, 1),
		Entry("crash while starting", 4, time.Hour, false, 5),
		Entry("crash after running briefly", 4, time.Minute, true, 5),
		Entry("crash after running exactly 5 min", 4, 5*time.Minute, true, 5),
		Entry("crash after running over 5 min resets", 150, 5*time.Minute+time.Nanosecond, true, 1),
		Entry("a negative previous count counts from zero", -3, time.Duration(0), false, 1),
	)

	It("does not restart a record that is not CRASHED", func() {
		for _, s := range []string{models.ActualLRPStateUnclaimed, models.ActualLRPStateClaimed, models.ActualLRPStateRunning} {
			lrp := &models.ActualLRP{State: s, CrashCount: 5}
			Expect(policy.ShouldRestartCrashed(lrp, now.Add(24*time.Hour))).To(BeFalse())
		}
	})

	Context("with an LRP's own restart_policy", func() {
		override := &models.RestartPolicy{ImmediateRestarts: 1, BaseBackoffMs: 100, MaxBackoffMs: 350, MaxRestarts: 5, ResetAfterMs: 1000}

		It("uses the override, else the default", func() {
			d := validDesiredLRP()
			d.RestartPolicy = override
			Expect(d.EffectiveRestartPolicy()).To(Equal(*override))
			Expect(d.SchedulingInfo().EffectiveRestartPolicy()).To(Equal(*override))
			d.RestartPolicy = nil
			Expect(d.EffectiveRestartPolicy()).To(Equal(models.DefaultRestartPolicy()))
			Expect(models.EffectiveRestartPolicy(nil)).To(Equal(models.DefaultRestartPolicy()))
		})

		DescribeTable("applies its numbers",
			func(count int, immediate bool, delay time.Duration, givesUp bool) {
				p := models.EffectiveRestartPolicy(override)
				Expect(p.ShouldRestartImmediately(count)).To(Equal(immediate))
				Expect(p.RestartDelay(count)).To(Equal(delay))
				Expect(p.GivesUp(count)).To(Equal(givesUp))
			},
			Entry("count 0", 0, true, time.Duration(0), false),
			Entry("count 1", 1, false, 100*time.Millisecond, false),
			Entry("count 2", 2, false, 200*time.Millisecond, false),
			Entry("count 3 capped", 3, false, 350*time.Millisecond, false),
			Entry("count 5 gives up", 5, false, 350*time.Millisecond, true),
		)

		It("resets after its own reset_after_ms", func() {
			p := models.EffectiveRestartPolicy(override)
			Expect(p.NewCrashCount(3, now.Add(-2*time.Second), now, true)).To(Equal(1))
			Expect(p.NewCrashCount(3, now.Add(-500*time.Millisecond), now, true)).To(Equal(4))
		})

		It("saturates absurd durations instead of overflowing", func() {
			p := models.RestartPolicy{ImmediateRestarts: 0, BaseBackoffMs: math.MaxInt64 / 2, MaxBackoffMs: math.MaxInt64, MaxRestarts: 10}
			Expect(p.RestartDelay(5)).To(BeNumerically(">", 0))
		})
	})
})
