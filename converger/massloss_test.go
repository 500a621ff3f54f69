package converger_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Compute, when many cells vanish at once", func() {
	// fleet runs index i of "web" on cell-<i>, and a task on cell-0.
	fleet := func(present []string, confirmed bool, n int) converger.Snapshot {
		snap := converger.Snapshot{Desired: one(desired("web", n)), Cells: cells(present...),
			Domains: []string{freshDomain}, MassLossConfirmed: confirmed,
			CellsAbsentSince: map[string]time.Time{"cell-0": now.Add(-time.Hour)},
			Tasks:            []*models.Task{task("t", models.TaskStateRunning, "cell-0", time.Minute, time.Minute, 0)}}
		for i := 0; i < n; i++ {
			snap.Actual = append(snap.Actual, actual("web", i, models.ActualLRPStateRunning, "cell-"+string(rune('0'+i)), time.Hour))
		}
		return snap
	}

	DescribeTable("acts on vanished cells only when the loss is small or confirmed",
		func(snap converger.Snapshot, suspects int, taskFailed bool, loss *converger.MassLoss) {
			res := converger.Compute(snap, now, converger.Rules{})
			Expect(res.SuspectsToMark).To(HaveLen(suspects))
			Expect(res.TasksToFail).To(HaveLen(map[bool]int{true: 1, false: 0}[taskFailed]))
			Expect(res.MassLoss).To(Equal(loss))
		},
		Entry("one of three cells gone: its instance is suspect, its task fails",
			fleet([]string{"cell-1", "cell-2"}, false, 3), 1, true, nil),
		Entry("one of two cells gone: acted on (a mass loss needs two cells)",
			fleet([]string{"cell-1"}, false, 2), 1, true, nil),
		Entry("two of five gone: not more than half",
			fleet([]string{"cell-2", "cell-3", "cell-4"}, false, 5), 2, true, nil),
		Entry("two of three gone at once: held, nothing marked or failed",
			fleet([]string{"cell-2"}, false, 3), 0, false,
			&converger.MassLoss{Absent: []string{"cell-0", "cell-1"}, Known: 3, Held: true}),
		Entry("every cell gone at once (etcd lost every presence): held",
			fleet(nil, false, 3), 0, false,
			&converger.MassLoss{Absent: []string{"cell-0", "cell-1", "cell-2"}, Known: 3, Held: true}),
		Entry("the same loss, confirmed: acted on",
			fleet([]string{"cell-2"}, true, 3), 2, true,
			&converger.MassLoss{Absent: []string{"cell-0", "cell-1"}, Known: 3, Held: false}),
	)

	It("still converges everything else while it holds", func() {
		snap := fleet(nil, false, 3)
		snap.Desired = one(desired("web", 4)) // index 3 has no record
		res := converger.Compute(snap, now, converger.Rules{})
		Expect(res.MassLoss.Held).To(BeTrue())
		Expect(res.Missing).To(Equal([]converger.MissingIndices{{ProcessGuid: "web", Indices: []int{3}}}))
	})
})
