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
	"github.com/diego-runtime/diego/models"
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

// Issue 19, item 5: the auction gave the task to cell A, whose POST /work
// timed out; the auctioneer's rejection sent it to cell B, which runs it; A
// then answers late. Whatever A tries, the task runs once, its client sees one
// completion with B's result, and the callback is delivered once.
var _ = Describe("A task whose first cell answers the auction late", func() {
	It("completes once, with one callback carrying the running cell's result", func() {
		cb := newCallbackServer(http.StatusOK)
		invoke(&receptor.TaskCompletionWorker{Logger: logger, BBS: bbsClient, KickInterval: 300 * time.Millisecond, AllowLoopback: true})
		body := strings.Replace(taskJSON("late", "d"), `"memory_mb":64`, `"completion_callback_url":"`+cb.URL+`","memory_mb":64`, 1)
		Expect(do("POST", "/v1/tasks", body).Status).To(Equal(http.StatusCreated))

		Expect(bbsClient.RejectTask(ctx(), logger, "late", "", "cell cell-a did not take the work: timeout")).To(Succeed())
		started, err := bbsClient.StartTask(ctx(), logger, "late", "cell-b")
		Expect(err).NotTo(HaveOccurred())
		Expect(started).To(BeTrue())

		By("the late cell starting, rejecting and completing it: each refused")
		_, err = bbsClient.StartTask(ctx(), logger, "late", "cell-a")
		Expect(err).To(MatchError(models.ErrTaskCellMismatch))
		Expect(bbsClient.RejectTask(ctx(), logger, "late", "", "late again")).To(MatchError(models.ErrTaskCellMismatch))
		Expect(bbsClient.CompleteTask(ctx(), logger, "late", "cell-a", true, "killed", "")).To(MatchError(models.ErrTaskCellMismatch))

		Expect(bbsClient.CompleteTask(ctx(), logger, "late", "cell-b", false, "", "from b")).To(Succeed())
		Eventually(func() int { return do("GET", "/v1/tasks/late", "").Status }, "5s").Should(Equal(http.StatusNotFound))
		Consistently(func() int { return len(cb.Received()) }, "1s").Should(Equal(1))
		Expect(cb.Received()[0].Result).To(Equal("from b"))
		Expect(cb.Received()[0].Failed).To(BeFalse())
	})
})
