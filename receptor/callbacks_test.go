package receptor_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor"
)

// callbackServer answers the statuses in turn (the last one repeats) and
// records the tasks it was sent.
type callbackServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	received []models.Task
}

func newCallbackServer(statuses ...int) *callbackServer {
	s := &callbackServer{statuses: statuses}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var task models.Task
		_ = json.Unmarshal(data, &task)
		s.mu.Lock()
		s.received = append(s.received, task)
		status := s.statuses[0]
		if len(s.statuses) > 1 {
			s.statuses = s.statuses[1:]
		}
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	DeferCleanup(s.Close)
	return s
}

func (s *callbackServer) Received() []models.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]models.Task(nil), s.received...)
}

var _ = Describe("Task completion callbacks", func() {
	JustBeforeEach(func() {
		invoke(&receptor.TaskCompletionWorker{
			Logger:       logger,
			BBS:          bbsClient,
			KickInterval: 700 * time.Millisecond,
			RetryDelay:   50 * time.Millisecond,
		})
	})

	createWithCallback := func(guid, url string) {
		body := strings.Replace(taskJSON(guid, "d"), `"memory_mb":64`, `"completion_callback_url":"`+url+`","memory_mb":64`, 1)
		Expect(do("POST", "/v1/tasks", body).Status).To(Equal(http.StatusCreated))
		completeTask(guid)
	}

	taskState := func(guid string) func() string {
		return func() string {
			resp := do("GET", "/v1/tasks/"+guid, "")
			if resp.Status == http.StatusNotFound {
				return "deleted"
			}
			return decode[models.Task](resp).State
		}
	}

	It("posts the completed task and deletes it when the callback answers 200", func() {
		cb := newCallbackServer(http.StatusOK)
		createWithCallback("t", cb.URL+"/done")
		Eventually(taskState("t"), "5s").Should(Equal("deleted"))
		Expect(cb.Received()).To(HaveLen(1))
		Expect(cb.Received()[0].TaskGuid).To(Equal("t"))
		Expect(cb.Received()[0].Result).To(Equal("the result"))
		Expect(cb.Received()[0].Failed).To(BeFalse())
	})

	It("deletes the task for any answer but 503/504, such as 404", func() {
		cb := newCallbackServer(http.StatusNotFound)
		createWithCallback("t", cb.URL)
		Eventually(taskState("t"), "5s").Should(Equal("deleted"))
		Expect(cb.Received()).To(HaveLen(1))
	})

	It("retries on 503 and deletes once the callback answers 200", func() {
		cb := newCallbackServer(http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusOK)
		createWithCallback("t", cb.URL)
		Eventually(taskState("t"), "5s").Should(Equal("deleted"))
		Expect(cb.Received()).To(HaveLen(3))
	})

	It("puts the task back after three failed tries and tries again at the next kick", func() {
		cb := newCallbackServer(http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusServiceUnavailable,
			http.StatusServiceUnavailable, http.StatusCreated)
		createWithCallback("t", cb.URL)
		Eventually(taskState("t"), "10s").Should(Equal("deleted"))
		Expect(len(cb.Received())).To(BeNumerically(">=", 4))
	})

	It("keeps retrying a callback URL that refuses connections, leaving the task COMPLETED", func() {
		cb := newCallbackServer(http.StatusOK)
		url := cb.URL
		cb.Close()
		createWithCallback("t", url)
		Consistently(taskState("t"), "2s").Should(Or(Equal(models.TaskStateCompleted), Equal(models.TaskStateResolving)))
		Eventually(taskState("t"), "3s").Should(Equal(models.TaskStateCompleted))
	})

	It("delivers once when several receptors watch the same tasks", func() {
		for i := 0; i < 2; i++ {
			invoke(&receptor.TaskCompletionWorker{Logger: logger, BBS: bbsClient, KickInterval: 300 * time.Millisecond})
		}
		cb := newCallbackServer(http.StatusOK)
		for i := 0; i < 5; i++ {
			createWithCallback(fmt.Sprintf("t%d", i), cb.URL)
		}
		Eventually(func() string { return string(do("GET", "/v1/tasks", "").Body) }, "5s").Should(Equal("[]\n"))
		Consistently(func() int { return len(cb.Received()) }, "1s").Should(Equal(5))
	})

	It("leaves a completed task without a callback URL alone", func() {
		Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
		completeTask("t")
		Consistently(taskState("t"), "2s").Should(Equal(models.TaskStateCompleted))
	})
})
