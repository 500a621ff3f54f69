package receptor_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/receptor"
)

// Issue 19, item 9: a callback that answers after longer than the converger's
// resolving timeout must not be delivered twice. Two receptors (as in
// production) and the real converger with a 1 s resolving timeout; the
// callback answers after 3 s.
var _ = Describe("A completion callback slower than the resolving timeout", func() {
	It("is delivered exactly once: the delivery renews its RESOLVING lease while it waits", func() {
		var deliveries atomic.Int32
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			deliveries.Add(1)
			time.Sleep(3 * time.Second)
			w.WriteHeader(http.StatusOK)
		}))
		DeferCleanup(slow.Close)

		for i := 0; i < 2; i++ {
			invoke(&receptor.TaskCompletionWorker{Logger: logger, BBS: bbsClient, KickInterval: 300 * time.Millisecond,
				ResolvingRenewInterval: 200 * time.Millisecond, AllowLoopback: true})
		}
		invoke(converger.New(converger.Options{Logger: logger, Clock: clock.NewClock(), BBS: bbsClient,
			Config: converger.Config{Interval: 100 * time.Millisecond, Rules: converger.Rules{
				ResolvingTaskTimeout: time.Second, CompletedTaskRetention: time.Hour}}}))

		body := strings.Replace(taskJSON("slow", "d"), `"memory_mb":64`, `"completion_callback_url":"`+slow.URL+`","memory_mb":64`, 1)
		Expect(do("POST", "/v1/tasks", body).Status).To(Equal(http.StatusCreated))
		completeTask("slow")

		Eventually(func() int { return do("GET", "/v1/tasks/slow", "").Status }, "10s").Should(Equal(http.StatusNotFound))
		Consistently(deliveries.Load, "1500ms").Should(BeEquivalentTo(1))
	})
})
