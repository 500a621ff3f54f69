package executor_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor"
)

// Issue 19, item 9: events dropped for a slow subscriber must be repaired, so
// the subscriber has to learn that it missed some.
var _ = Describe("A subscriber that falls behind", func() {
	It("is told it lagged before its next event, and finds what it missed in Containers", func() {
		exec := newExecutor(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10})
		events, stop := exec.SubscribeWithBuffer(1)
		DeferCleanup(stop)
		completed := func(guid string) func() executor.State {
			return func() executor.State {
				c, ok := exec.Get(guid)
				if !ok {
					return "missing"
				}
				return c.State
			}
		}
		runTask := func(guid string) {
			start(exec, executor.RunRequest{Guid: guid, Kind: executor.KindTask, Domain: "d", RootFS: tg.BusyboxURI, Action: sh("true")})
			Eventually(completed(guid), 30*time.Second).Should(Equal(executor.StateCompleted))
		}

		By("two tasks completing while nobody reads: the second event has no room")
		runTask("lag-1")
		runTask("lag-2")
		Expect(exec.DroppedEvents()).To(BeNumerically(">=", 1))
		var first executor.Event
		Expect(events).To(Receive(&first))
		Expect(first.Container.Guid).To(Equal("lag-1"))
		Expect(events).NotTo(Receive(), "lag-2's event was dropped")

		By("the next event finding room: the subscriber is told it lagged first")
		runTask("lag-3")
		var next executor.Event
		Expect(events).To(Receive(&next))
		Expect(next.Type).To(Equal(executor.EventLagged))
		c, ok := exec.Get("lag-2")
		Expect(ok).To(BeTrue(), "what was missed is in Containers")
		Expect(c.State).To(Equal(executor.StateCompleted))
		_ = exec.Delete(context.Background(), "lag-2")
	})
})
