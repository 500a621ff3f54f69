//go:build e2e

package acceptance_test

import (
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Routing", func() {
	It("reaches each instance, and stops reaching removed ones within 2 s", func() {
		g := guid("route")
		desire(appJSON(g, 3))
		Eventually(func() map[int]bool { return answering(g+".test", 9) }, 10*time.Second).
			Should(Equal(map[int]bool{0: true, 1: true, 2: true}))

		put("/v1/desired_lrps/"+g, J{"instances": 1}, http.StatusNoContent)
		Eventually(func() (int, error) {
			list, err := w.ActualLRPs(g)
			return len(list), err
		}, 20*time.Second, 100*time.Millisecond).Should(Equal(1))
		removed := time.Now()
		Eventually(func() map[int]bool { return answering(g+".test", 6) }, 2*time.Second, 100*time.Millisecond).
			Should(Equal(map[int]bool{0: true}))
		Expect(time.Since(removed)).To(BeNumerically("<", 2*time.Second))
		Consistently(func() map[int]bool { return answering(g+".test", 6) }, 3*time.Second, 200*time.Millisecond).
			Should(Equal(map[int]bool{0: true}))
	})

	It("answers 404 with a clear body for an unknown host", func() {
		resp, err := w.Get("no-such-app.test", "/")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusNotFound))
		Expect(string(resp.Body)).To(ContainSubstring("no-such-app.test"))
	})

	It("sets a request id and forwards headers", func() {
		g := guid("headers")
		desire(appJSON(g, 1))
		Eventually(func() (http.Header, error) {
			resp, err := w.Get(g+".test", "/")
			return resp.Header, err
		}, 10*time.Second).Should(HaveKey("X-Request-Id"))
	})
})

var _ = Describe("Logs", func() {
	It("stream every instance's lines in one stream, with their sources", func() {
		g := guid("logs")
		desire(appJSON(g, 2))
		Eventually(func() map[int]bool { return answering(g+".test", 6) }, 10*time.Second).Should(HaveLen(2))
		_, err := w.Get(g+".test", "/stderr?msg=to-stderr")
		Expect(err).NotTo(HaveOccurred())

		Eventually(func(g2 Gomega) {
			lines, err := w.Logs(g, 1000)
			g2.Expect(err).NotTo(HaveOccurred())
			sources := map[string]bool{}
			var sawErr, sawCell bool
			for _, l := range lines {
				g2.Expect(l.LogGuid).To(Equal(g))
				g2.Expect(l.Timestamp).To(BeNumerically(">", 0))
				if l.SourceType == models.LogSourceApp && l.MessageType == models.LogMessageTypeOut && strings.Contains(l.Message, "GET /") {
					sources[l.SourceInstance] = true
				}
				if l.MessageType == models.LogMessageTypeErr && l.Message == "to-stderr" {
					sawErr = true
				}
				if l.SourceType == models.LogSourceCell && strings.Contains(l.Message, "creating container") {
					sawCell = true
				}
			}
			g2.Expect(sources).To(Equal(map[string]bool{"0": true, "1": true}))
			g2.Expect(sawErr).To(BeTrue(), "the stderr line")
			g2.Expect(sawCell).To(BeTrue(), "the cell's lifecycle line")
		}, 15*time.Second, time.Second).Should(Succeed())
	})
})
