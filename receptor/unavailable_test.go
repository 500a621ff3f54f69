package receptor_test

import (
	"net/http"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("When the store is unavailable", func() {
	It("answers 503 ServiceUnavailable promptly while etcd is down and recovers when it returns", func() {
		Expect(do("POST", "/v1/tasks", taskJSON("before", "d")).Status).To(Equal(http.StatusCreated))
		etcd.Stop()
		restarted := false
		DeferCleanup(func() {
			if !restarted {
				Expect(etcd.Start()).To(Succeed())
			}
		})

		start := time.Now()
		expectError(do("GET", "/v1/tasks", ""), http.StatusServiceUnavailable, "ServiceUnavailable")
		expectError(do("POST", "/v1/tasks", taskJSON("during", "d")), http.StatusServiceUnavailable, "ServiceUnavailable")
		expectError(do("GET", "/v1/desired_lrps/x", ""), http.StatusServiceUnavailable, "ServiceUnavailable")
		Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second))

		Expect(etcd.Start()).To(Succeed())
		restarted = true
		Eventually(func() int { return do("GET", "/v1/tasks/before", "").Status }, "20s", "200ms").Should(Equal(http.StatusOK))
		expectError(do("GET", "/v1/tasks/during", ""), http.StatusNotFound, "TaskNotFound")
	})

	It("answers 503 ServiceUnavailable promptly when no BBS answers", func() {
		bbsProcess.Signal(os.Interrupt)
		Eventually(bbsProcess.Wait(), "5s").Should(Receive())
		start := time.Now()
		expectError(do("GET", "/v1/desired_lrps", ""), http.StatusServiceUnavailable, "ServiceUnavailable")
		expectError(do("GET", "/v1/events", ""), http.StatusServiceUnavailable, "ServiceUnavailable")
		Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
	})
})
