package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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
})
