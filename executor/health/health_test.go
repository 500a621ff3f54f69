package health_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor/health"
)

// freeAddress returns a loopback address nothing listens on.
func freeAddress() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	l.Close()
	return addr
}

var _ = Describe("Health checks", func() {
	Describe("a TCP check", func() {
		It("passes when something listens and fails naming the address otherwise", func() {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			defer l.Close()
			Expect(health.TCP{Address: l.Addr().String()}.Attempt(context.Background())).To(Succeed())

			addr := freeAddress()
			Expect(health.TCP{Address: addr}.Attempt(context.Background())).To(MatchError(ContainSubstring("failed to make TCP connection to " + addr)))
		})
	})

	Describe("an HTTP check", func() {
		It("passes only on 200", func() {
			status := atomic.Int32{}
			status.Store(200)
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(int(status.Load()))
			}))
			defer server.Close()

			check := health.HTTP{URL: server.URL + "/health"}
			Expect(check.Attempt(context.Background())).To(Succeed())
			status.Store(204)
			Expect(check.Attempt(context.Background())).To(MatchError(ContainSubstring("answered 204")))
			status.Store(500)
			Expect(check.Attempt(context.Background())).To(MatchError(ContainSubstring("answered 500")))
		})

		It("fails an attempt that takes longer than its timeout", func() {
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(2 * time.Second):
				case <-r.Context().Done():
				}
			}))
			defer server.Close()
			started := time.Now()
			Expect(health.HTTP{URL: server.URL, Timeout: 100 * time.Millisecond}.Attempt(context.Background())).NotTo(Succeed())
			Expect(time.Since(started)).To(BeNumerically("<", time.Second))
		})
	})

	Describe("the monitor", func() {
		var listener net.Listener
		var addr string

		BeforeEach(func() { addr = freeAddress() })
		AfterEach(func() {
			if listener != nil {
				listener.Close()
				listener = nil
			}
		})

		listen := func() {
			var err error
			listener, err = net.Listen("tcp", addr)
			Expect(err).NotTo(HaveOccurred())
		}

		It("polls until the check passes, reports healthy once, and keeps watching", func() {
			var healthy atomic.Int32
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- health.Monitor{
					Checks:           []health.Check{health.TCP{Address: addr}},
					StartupInterval:  20 * time.Millisecond,
					LivenessInterval: 20 * time.Millisecond,
					StartTimeout:     5 * time.Second,
					Clock:            clock.NewClock(),
					OnHealthy:        func() { healthy.Add(1) },
				}.Perform(ctx)
			}()
			Consistently(healthy.Load, 100*time.Millisecond).Should(BeZero())
			listen()
			Eventually(healthy.Load).Should(Equal(int32(1)))
			Consistently(done, 200*time.Millisecond).ShouldNot(Receive())
			cancel()
			Eventually(done).Should(Receive(MatchError(health.ErrCancelled)))
			Expect(healthy.Load()).To(Equal(int32(1)))
		})

		It("fails with 'Instance never healthy after ...' once the start timeout passes", func() {
			started := time.Now()
			err := health.Monitor{
				Checks:          []health.Check{health.TCP{Address: addr}},
				StartupInterval: 50 * time.Millisecond,
				StartTimeout:    time.Second,
				Clock:           clock.NewClock(),
			}.Perform(context.Background())
			var never *health.NeverHealthyError
			Expect(errors.As(err, &never)).To(BeTrue())
			Expect(err).To(MatchError(HavePrefix("Instance never healthy after 1s: failed to make TCP connection")))
			Expect(time.Since(started)).To(BeNumerically("~", time.Second, 300*time.Millisecond))
		})

		It("fails with 'Instance became unhealthy: ...' at the first liveness failure", func() {
			listen()
			var healthy atomic.Bool
			done := make(chan error, 1)
			go func() {
				done <- health.Monitor{
					Checks:           []health.Check{health.TCP{Address: addr}},
					StartupInterval:  20 * time.Millisecond,
					LivenessInterval: 20 * time.Millisecond,
					Clock:            clock.NewClock(),
					OnHealthy:        func() { healthy.Store(true) },
				}.Perform(context.Background())
			}()
			Eventually(healthy.Load).Should(BeTrue())
			listener.Close()
			listener = nil
			var err error
			Eventually(done).Should(Receive(&err))
			Expect(err).To(MatchError(HavePrefix("Instance became unhealthy: failed to make TCP connection")))
		})

		It("uses a check's own interval over the liveness interval", func() {
			var attempts atomic.Int32
			probe := health.Func{Every: 10 * time.Millisecond, Probe: func(context.Context) error { attempts.Add(1); return nil }}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go health.Monitor{Checks: []health.Check{probe}, LivenessInterval: time.Hour, Clock: clock.NewClock()}.Perform(ctx)
			Eventually(attempts.Load).Should(BeNumerically(">=", 10))
		})
	})

	Describe("readiness", func() {
		It("switches readiness both ways and never fails", func() {
			var ready atomic.Bool
			var mu sync.Mutex
			var changes []bool
			probe := health.Func{Probe: func(context.Context) error {
				if ready.Load() {
					return nil
				}
				return errors.New("not ready")
			}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- health.Readiness{
					Checks: []health.Check{probe}, Interval: 10 * time.Millisecond, Clock: clock.NewClock(),
					OnChange: func(r bool) { mu.Lock(); changes = append(changes, r); mu.Unlock() },
				}.Perform(ctx)
			}()
			seen := func() []bool { mu.Lock(); defer mu.Unlock(); return append([]bool(nil), changes...) }
			Eventually(seen).Should(Equal([]bool{false}))
			ready.Store(true)
			Eventually(seen).Should(Equal([]bool{false, true}))
			ready.Store(false)
			Eventually(seen).Should(Equal([]bool{false, true, false}))
			Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
			cancel()
			Eventually(done).Should(Receive(MatchError(health.ErrCancelled)))
		})
	})
})
