package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/testapps/attacker/wire"
)

func TestAttacker(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Attacker Suite")
}

// startNATS runs a NATS server on loopback; with users set, clients must
// authenticate and the users' permissions apply.
func startNATS(users []*server.User) string {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Users: users, NoLog: true, NoSigs: true})
	Expect(err).NotTo(HaveOccurred())
	go s.Start()
	Expect(s.ReadyForConnections(5 * time.Second)).To(BeTrue())
	DeferCleanup(s.Shutdown)
	return s.Addr().String()
}

// The suite's attacks must be able to succeed, or a refusal would prove
// nothing: each kind is shown succeeding against an open target and failing
// against a closed one.
var _ = Describe("The attacker", func() {
	It("reaches an open TCP port and reports a closed one", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		Expect(try(Attack{Kind: "tcp", Target: l.Addr().String()})).To(HaveField("Succeeded", true))
		addr := l.Addr().String()
		l.Close()
		r := try(Attack{Kind: "tcp", Target: addr})
		Expect(r.Reached).To(BeFalse())
		Expect(r.Detail).To(ContainSubstring("refused"))
	})

	It("gets an HTTP answer and tells a refusal from a success", func() {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				http.Error(w, "no", http.StatusForbidden)
				return
			}
			w.Write([]byte("metadata"))
		}))
		defer s.Close()
		Expect(try(Attack{Kind: "http", Target: s.URL})).To(And(HaveField("Succeeded", true), HaveField("Detail", "200 metadata")))
		post := try(Attack{Kind: "http-post", Target: s.URL, Body: "{}"})
		Expect(post.Reached).To(BeTrue())
		Expect(post.Succeeded).To(BeFalse())
	})

	It("publishes and subscribes on an open NATS", func() {
		addr := startNATS(nil)
		Expect(try(Attack{Kind: "nats-pub", Target: addr, Subject: "router.register", Body: "{}"})).To(HaveField("Succeeded", true))
		Expect(try(Attack{Kind: "nats-sub", Target: addr, Subject: "logs.>"})).To(HaveField("Succeeded", true))
	})

	It("fails on a NATS that wants credentials", func() {
		addr := startNATS([]*server.User{{Username: "rep", Password: "secret"}})
		r := try(Attack{Kind: "nats-pub", Target: addr, Subject: "router.register", Body: "{}"})
		Expect(r.Reached).To(BeTrue())
		Expect(r.Succeeded).To(BeFalse())
		Expect(r.Detail).To(ContainSubstring("Authorization Violation"))
	})

	It("runs a list of attacks at once, answering in order", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		closedAddr := closed.Addr().String()
		closed.Close()
		start := time.Now()
		out := tryAll([]Attack{{Name: "a", Kind: "tcp", Target: l.Addr().String()}, {Name: "b", Kind: "tcp", Target: closedAddr}, {Name: "c", Kind: "nope"}})
		Expect(time.Since(start)).To(BeNumerically("<", 2*attemptTimeout))
		Expect(out).To(HaveLen(3))
		Expect(out[0].Name).To(Equal("a"))
		Expect(out[0].Succeeded).To(BeTrue())
		Expect(out[1].Succeeded).To(BeFalse())
		Expect(out[2].Detail).To(Equal("unknown kind nope"))
	})

	It("summarises a thousand attempts in a task's 10 KB result, with an outcome for each", func() {
		var results []Result
		for i := 0; i < 1000; i++ {
			results = append(results, Result{Attack: Attack{Name: fmt.Sprint(i), Kind: "tcp"},
				Detail: fmt.Sprintf("dial tcp 10.0.%d.%d:8889: connect: connection refused", i/250, i%250)})
		}
		results[7] = Result{Attack: Attack{Name: "7"}, Reached: true, Detail: "connected"}
		results[9].Detail = "dial tcp 10.0.0.9:4222: i/o timeout"
		out, err := json.Marshal(wire.Summarize(results))
		Expect(err).NotTo(HaveOccurred())
		Expect(len(out)).To(BeNumerically("<=", 10240))
		var s wire.Summary
		Expect(json.Unmarshal(out, &s)).To(Succeed())
		Expect(s.Tried).To(Equal(1000))
		Expect(s.Through).To(HaveLen(1))
		Expect(s.Outcome(0)).To(Equal("refused: connection refused"))
		Expect(s.Outcome(7)).To(HavePrefix("GOT THROUGH"))
		Expect(s.Outcome(9)).To(Equal("refused: i/o timeout"))
		Expect(s.Outcome(999)).To(Equal("refused: connection refused"))
	})

	It("names every reason past the last code as one more", func() {
		var results []Result
		for i := 0; i < 100; i++ {
			results = append(results, Result{Detail: fmt.Sprintf("reason %d", i)})
		}
		s := wire.Summarize(results)
		Expect(s.Outcome(0)).To(Equal("refused: reason 0"))
		Expect(s.Outcome(99)).To(ContainSubstring("more reasons"))
	})
})
