package rep_test

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep"
)

// Issue 19, item 9: executor events dropped for a slow subscriber are
// repaired. When the processor is told it lagged (executor.EventLagged), it
// asks the Harmonizer for a pass at once, which reads the containers' state
// and reports what the missed events would have.
var _ = Describe("A rep that missed executor events", func() {
	It("harmonises at once on a resync request, reporting a start whose event it never handled", func() {
		// No processor: every executor event of this cell goes unhandled, as
		// if dropped. The harmonizer's own interval is far beyond the spec.
		c := startCell(cellOptions{id: "cell-resync"})
		h := ifrit.Invoke(rep.Harmonizer{Rep: c.rep, Interval: time.Hour})
		DeferCleanup(func() {
			h.Signal(os.Interrupt)
			Eventually(h.Wait(), 10*time.Second).Should(Receive())
		})

		desireLRP("missed", sh("sleep 300"), nil)
		Expect(c.rep.Perform(logger, lrpWork("missed", 0)).LRPs).To(BeEmpty())
		Eventually(func() executor.State {
			for _, ctr := range c.exec.Containers() {
				if ctr.Run != nil && ctr.Run.ProcessGuid == "missed" {
					return ctr.State
				}
			}
			return "none"
		}, 30*time.Second).Should(Equal(executor.StateRunning))
		Consistently(func() string { return state(ordinaryRecord("missed", 0)()) }, time.Second).Should(Equal(models.ActualLRPStateClaimed),
			"the running event went unhandled")

		c.rep.RequestResync()
		Eventually(func() string { return state(ordinaryRecord("missed", 0)()) }, 10*time.Second).Should(Equal(models.ActualLRPStateRunning))
	})
})
