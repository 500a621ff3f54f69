package rep_test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/models"
)

// brokenCreates is the suite's garden with every create failing inside garden,
// as with runc missing or a broken rootfs store: the cell's fault, not the app's.
type brokenCreates struct{ *garden.Client }

func (brokenCreates) Create(context.Context, garden.ContainerSpec) (garden.ContainerInfo, error) {
	return garden.ContainerInfo{}, &garden.Error{Name: garden.ErrInternal.Name, Message: "runc: executable file not found"}
}

// Issue 19, item 4: a black-hole cell.
var _ = Describe("A cell whose creates keep failing", func() {
	It("gives the instances back UNCLAIMED without counting crashes, and marks itself unhealthy after 3 failures", func() {
		socket := filepath.Join(GinkgoT().TempDir(), "broken-garden.sock")
		server := ifrit.Invoke(garden.NewServer(logger, socket, brokenCreates{tg.Client}))
		DeferCleanup(func() { server.Signal(os.Interrupt); <-server.Wait() })
		c := startCell(cellOptions{id: "cell-black-hole", withProcessor: true, gardenSocket: socket})
		desireLRP("victim", sh("sleep 300"), nil)

		for attempt := 1; attempt <= 3; attempt++ {
			Expect(c.rep.State(context.Background()).Healthy).To(BeTrue(), "attempt %d", attempt)
			Expect(c.rep.Perform(logger, lrpWork("victim", 0)).LRPs).To(BeEmpty())
			Eventually(func() int { return len(c.exec.Containers()) }, 10*time.Second).Should(Equal(1))
			Eventually(func() int { return len(c.exec.Containers()) }, 20*time.Second).Should(BeZero())
			a := ordinaryRecord("victim", 0)()
			Expect(a).NotTo(BeNil())
			Expect(a.State).To(Equal(models.ActualLRPStateUnclaimed), "a create failure that is the cell's fault is not a crash")
			Expect(a.CrashCount).To(BeZero())
		}
		state := c.rep.State(context.Background())
		Expect(state.Healthy).To(BeFalse())
		Expect(state.AvailableResources.MemoryMB).To(BeZero())
		Expect(c.rep.Perform(logger, lrpWork("victim", 0)).LRPs).To(HaveLen(1), "an unhealthy cell takes no work")
	})
})
