//go:build e2e

package acceptance_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/models"
)

const rollRate = 200 // requests/s through the router

var _ = Describe("Rolling changes", func() {
	It("rolls 10 instances to a new image under 200 requests/s through a router that never retries, failing none, and halts a roll to an image that never becomes healthy with the old 10 serving", func() {
		oneAttemptCluster()
		v2, err := w.PushTestAppVersion("v2", "APP_VERSION=v2")
		Expect(err).NotTo(HaveOccurred())
		// The app listens on 9090; its TCP check waits on 8080 in vain.
		broken, err := w.PushTestAppVersion("broken", "APP_VERSION=broken", "PORT=9090")
		Expect(err).NotTo(HaveOccurred())
		ensureDomain()

		g := guid("roll")
		host := g + ".test"
		desire(appJSON(g, 10, J{"start_timeout": 5}))
		Eventually(func() map[int]bool { return answering(host, 40) }, 30*time.Second).Should(HaveLen(10))
		v1 := desiredVersion(g)

		roll := func() models.RollStatus {
			d, err := w.DesiredLRP(g)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Roll).NotTo(BeNil())
			return *d.Roll
		}
		versionsAnswering := func(tries int) map[string]int {
			seen := map[string]int{}
			for i := 0; i < tries; i++ {
				env, err := instanceEnv(host)
				Expect(err).NotTo(HaveOccurred())
				seen[env["APP_VERSION"]]++
			}
			return seen
		}

		By("rolling to a new image under load")
		load := world.StartLoad(w.RouterURL, host, rollRate)
		defer load.Stop() // a failed assertion still ends the load
		time.Sleep(2 * time.Second)
		started := time.Now()
		put("/v1/desired_lrps/"+g, J{"rootfs": world.RootFS(v2)}, http.StatusNoContent)
		Expect(desiredVersion(g)).NotTo(Equal(v1))
		Eventually(roll, 3*time.Minute, time.Second).Should(Equal(models.RollStatus{State: models.RollStateDone, Updated: 10, Total: 10}))
		took := time.Since(started)
		v2Version := desiredVersion(g)
		Eventually(func() ([]*models.ActualLRP, error) { return w.ActualLRPs(g) }, 30*time.Second).Should(HaveLen(10), "the old copies are gone")
		time.Sleep(2 * time.Second)
		result := load.Stop()
		AddReportEntry("roll to a new image", fmt.Sprintf("10 instances in %s; %d requests sent, %d failed", took.Round(100*time.Millisecond), result.Sent, result.Failed))
		Expect(result.Sent).To(BeNumerically(">", rollRate*10), "the load ran throughout")
		Expect(result.Failed).To(BeZero(), "first failures: %v", result.FirstFailures)
		Expect(versionsAnswering(30)).To(Equal(map[string]int{"v2": 30}))
		Expect(answering(host, 60)).To(HaveLen(10))

		By("deploying an image that never becomes healthy with the CLI, under load")
		load = world.StartLoad(w.RouterURL, host, rollRate)
		defer load.Stop()
		out, errOut, code := w.CLI("deploy", g, broken, "--timeout", "3m")
		AddReportEntry("diego deploy of the broken image", out+errOut)
		Expect(code).To(Equal(1), out+errOut)
		Expect(errOut).To(ContainSubstring("the roll halted, the old instances keep serving"))
		Expect(errOut).To(ContainSubstring("Instance never healthy after 5s"))
		halted := roll()
		Expect(halted.State).To(Equal(models.RollStateHalted))
		Expect(halted.Updated).To(BeZero())

		By("keeping the old 10 serving while the roll stays halted")
		// Per index, a RUNNING and routable instance of the old version:
		// the ORDINARY one, or at the halted index the EVACUATING copy.
		serving := func() (map[int]bool, error) {
			list, err := w.ActualLRPs(g)
			out := map[int]bool{}
			for _, a := range list {
				if a.State == models.ActualLRPStateRunning && a.Routable && a.Version == v2Version {
					out[a.Index] = true
				}
			}
			return out, err
		}
		Consistently(serving, 10*time.Second, time.Second).Should(HaveLen(10))
		Expect(roll().State).To(Equal(models.RollStateHalted))
		result = load.Stop()
		AddReportEntry("halted roll", fmt.Sprintf("%d requests sent, %d failed", result.Sent, result.Failed))
		Expect(result.Failed).To(BeZero(), "first failures: %v", result.FirstFailures)
		Expect(answering(host, 100)).To(HaveLen(10))
		Expect(versionsAnswering(30)).To(Equal(map[string]int{"v2": 30}))

		By("resuming with a further change back to the working image")
		out, errOut, code = w.CLI("deploy", g, v2, "--timeout", "2m")
		Expect(code).To(Equal(0), out+errOut)
		Expect(out).To(ContainSubstring("10 instance(s) of the new version running"))
		Expect(answering(host, 60)).To(HaveLen(10))
	})
})

// desiredVersion is the version the BBS gave the desired LRP.
func desiredVersion(g string) string {
	d, err := w.DesiredLRP(g)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, d.Version).NotTo(BeEmpty())
	return d.Version
}
