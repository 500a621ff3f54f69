package receptor_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
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
	bodies   []string
}

func newCallbackServer(statuses ...int) *callbackServer {
	s := &callbackServer{statuses: statuses}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var task models.Task
		_ = json.Unmarshal(data, &task)
		s.mu.Lock()
		s.received = append(s.received, task)
		s.bodies = append(s.bodies, string(data))
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

// Bodies are the raw bodies it was sent.
func (s *callbackServer) Bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
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
			// The callback servers here listen on loopback.
			AllowLoopback: true,
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
			invoke(&receptor.TaskCompletionWorker{Logger: logger, BBS: bbsClient, KickInterval: 300 * time.Millisecond, AllowLoopback: true})
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

// serveOn starts a server on a loopback address of its own (every address in
// 127.0.0.0/8 is this host's loopback on Linux) that counts its requests.
func serveOn(ip string, h http.HandlerFunc) *httptest.Server {
	l, err := net.Listen("tcp", ip+":0")
	Expect(err).NotTo(HaveOccurred())
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	DeferCleanup(s.Close)
	return s
}

var _ = Describe("Task completion callbacks into forbidden networks", func() {
	// 127.0.0.2 stands in for the cloud metadata service (169.254.169.254,
	// which a test cannot bind without changing the host's network): it is
	// denied the way an operator's callback_deny_networks entry is.
	const metadata = "127.0.0.2"
	var worker *receptor.TaskCompletionWorker
	var hits atomic.Int32

	BeforeEach(func() {
		hits.Store(0)
		worker = &receptor.TaskCompletionWorker{Logger: logger, KickInterval: 300 * time.Millisecond, RetryDelay: 50 * time.Millisecond}
	})
	JustBeforeEach(func() {
		worker.BBS = bbsClient
		invoke(worker)
	})

	target := func(ip string) *httptest.Server {
		return serveOn(ip, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			io.WriteString(w, "iam-credentials")
		})
	}

	create := func(guid, url string) {
		body := strings.Replace(taskJSON(guid, "d"), `"memory_mb":64`, `"completion_callback_url":"`+url+`","memory_mb":64`, 1)
		Expect(do("POST", "/v1/tasks", body).Status).To(Equal(http.StatusCreated))
		completeTask(guid)
	}

	// refused asserts the callback never reached its target, that the
	// receptor logged why, and that the task stays COMPLETED (readable and
	// deletable) without being tried again.
	refused := func(guid, reason string) {
		GinkgoHelper()
		Eventually(func() string { return string(logger.Buffer().Contents()) }, "5s").Should(ContainSubstring("callback-refused"))
		Expect(string(logger.Buffer().Contents())).To(ContainSubstring(reason))
		Eventually(func() string { return taskStateOf(guid) }, "3s").Should(Equal(models.TaskStateCompleted))
		Consistently(func() string { return taskStateOf(guid) }, "1s").Should(Equal(models.TaskStateCompleted))
		Expect(hits.Load()).To(BeZero())
		Expect(strings.Count(string(logger.Buffer().Contents()), "callback-refused")).To(Equal(1))
	}

	It("refuses loopback by default", func() {
		create("t", target("127.0.0.1").URL+"/done")
		refused("t", "is not reachable from tenant work")
	})

	Context("with loopback allowed and the metadata stand-in denied", func() {
		BeforeEach(func() {
			worker.AllowLoopback = true
			worker.DenyNetworks = []string{metadata + "/32"}
		})

		It("refuses the metadata address", func() {
			create("t", target(metadata).URL+"/latest/meta-data/iam")
			refused("t", metadata)
		})

		It("refuses the real metadata address, which is denied by default", func() {
			create("t", "http://169.254.169.254/latest/meta-data/iam")
			refused("t", "169.254.169.254")
		})

		It("refuses a redirect into the metadata address", func() {
			inner := target(metadata)
			var hopHits atomic.Int32
			hop := serveOn("127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				hopHits.Add(1)
				http.Redirect(w, r, inner.URL+"/latest/meta-data/iam", http.StatusTemporaryRedirect)
			})
			create("t", hop.URL+"/done")
			refused("t", metadata)
			Expect(hopHits.Load()).To(BeNumerically(">=", 1))
		})

		It("still delivers to an allowed address", func() {
			cb := newCallbackServer(http.StatusOK)
			create("t", cb.URL)
			Eventually(func() string { return taskStateOf("t") }, "5s").Should(Equal("deleted"))
			Expect(cb.Received()).To(HaveLen(1))
		})
	})
})
