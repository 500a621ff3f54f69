//go:build e2e

package acceptance_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
)

const drainRate = 200 // requests/s through the router

var _ = Describe("Instances leave the routes before they stop", func() {
	It("fails no request while an app scales 10 -> 2 -> 10 -> 0 under 200 requests/s, through a router that never retries", func() {
		oneAttemptCluster()
		ensureDomain()

		g := guid("drain")
		host := g + ".test"
		desire(appJSON(g, 10))
		Eventually(func() map[int]bool { return answering(host, 40) }, 30*time.Second).Should(HaveLen(10))

		load := world.StartLoad(w.RouterURL, host, drainRate)
		defer load.Stop() // a failed assertion still ends the load
		settle := func() { time.Sleep(2 * time.Second) }
		scaleTo := func(n int) {
			By(fmt.Sprintf("scaling to %d", n))
			put("/v1/desired_lrps/"+g, J{"instances": n}, http.StatusNoContent)
		}
		instances := func() (int, error) {
			list, err := w.ActualLRPs(g)
			return len(list), err
		}

		settle()
		scaleTo(2)
		Eventually(instances, 60*time.Second).Should(Equal(2))
		settle()
		scaleTo(10)
		Eventually(runningCount(g), 90*time.Second).Should(Equal(10))
		settle()
		load.AcceptUnknownRoute() // at 0 the route is gone: 404 is the right answer
		scaleTo(0)
		Eventually(instances, 60*time.Second).Should(Equal(0))
		settle()

		result := load.Stop()
		AddReportEntry("requests", fmt.Sprintf("%d sent, %d failed", result.Sent, result.Failed))
		Expect(result.Sent).To(BeNumerically(">", drainRate*10), "the load ran throughout")
		Expect(result.Failed).To(BeZero(), "first failures: %v", result.FirstFailures)
	})
})

// oneAttemptCluster replaces the shared cluster with one whose router makes
// one attempt per request (so a request sent to a stopping instance fails),
// pushes the test images, and stops it when the spec ends: the next spec
// gets a cluster with the router's default retries.
func oneAttemptCluster() {
	GinkgoHelper()
	By("running a cluster whose router makes one attempt per request")
	if w != nil {
		AddReportEntry("the shared cluster was replaced", fmt.Sprint(w.Stop()))
	}
	var err error
	w, err = world.Start(world.Options{BinDir: binDir, Cells: 3, Zones: 3, PortOffset: portOffset,
		Output: GinkgoWriter, RouterMaxAttempts: 1})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		AddReportEntry("the one-attempt cluster stopped", fmt.Sprint(w.Stop()))
		w = nil
	})
	appImage, err = w.PushTestApp()
	Expect(err).NotTo(HaveOccurred())
	busybox, err = w.PushBusybox()
	Expect(err).NotTo(HaveOccurred())
}
