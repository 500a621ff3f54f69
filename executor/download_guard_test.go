package executor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Downloads on a tenant's behalf", func() {
	It("never fetch from this host, loopback or link-local (redirects: internal/netguard)", func() {
		var hits atomic.Int32
		inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.Write([]byte("control-plane secret"))
		}))
		DeferCleanup(inside.Close)
		guarded := newExecutor(executor.Resources{MemoryMB: 1024, DiskMB: 4096, Containers: 10}, func(c *executor.Config) {
			c.AllowLoopbackDownloads = false
		})
		events := collect(guarded)

		for i, from := range []string{
			inside.URL + "/secret",                                                  // loopback
			"http://169.254.169.254/latest/meta-data/",                              // link-local metadata
			"http://localhost:" + inside.URL[len("http://127.0.0.1:"):] + "/secret", // a name for loopback
		} {
			guid := "guarded-download-" + string(rune('a'+i))
			Expect(guarded.Allocate([]executor.Allocation{{Guid: guid, Kind: executor.KindTask, Resource: lrpResource}})).To(BeEmpty())
			Expect(guarded.Run(executor.RunRequest{Guid: guid, Kind: executor.KindTask, Domain: "d", RootFS: tg.BusyboxURI,
				Action: models.Download(models.DownloadAction{From: from, To: "/tmp/x"})})).To(Succeed())
			DeferCleanup(func() { _ = guarded.Delete(context.Background(), guid) })
			Eventually(events.find(guid, executor.EventCompleted), 30*time.Second).ShouldNot(BeNil())
			result := events.find(guid, executor.EventCompleted)().RunResult
			Expect(result.Failed).To(BeTrue(), from)
			Expect(result.FailureReason).To(ContainSubstring("not reachable from tenant work"), from)
		}
		Expect(hits.Load()).To(BeZero())
	})
})
