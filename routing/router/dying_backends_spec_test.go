package router_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

var _ = Describe("Router when backends die abruptly", func() {
	var (
		nc   *nats.Conn
		r    *testRouter
		host string
	)

	BeforeEach(func() {
		nc = natsConn()
		host = uniqueHost("dying")
		r = startRouter(func(c *router.Config) { c.DialTimeout = time.Duration(200 * time.Millisecond) }, router.Options{})
	})

	// register adds endpoints in order: the pool keeps that order, as it
	// keeps the order in which an emitter registered a cell's instances.
	register := func(addrs ...string) {
		want := r.Table().Lookup(host).Len() + len(addrs)
		for _, a := range addrs {
			publish(nc, messages.SubjectRegister, endpointFor(a, host))
		}
		Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(want))
	}

	// started starts n killable backends named prefix-0..n-1 and registers
	// them in that order.
	started := func(prefix string, n int) []*killableBackend {
		var bs []*killableBackend
		for i := 0; i < n; i++ {
			b := newKillableBackend(fmt.Sprintf("%s-%d", prefix, i))
			bs = append(bs, b)
			register(b.addr)
		}
		return bs
	}

	// fire sends n GETs from workers goroutines at once and returns every
	// failure (transport error, non-200 or a body not from a live backend).
	fire := func(n, workers int, alive func(body string) bool, during func(done int64)) []string {
		var (
			mu       sync.Mutex
			failures []string
			next     atomic.Int64
			done     atomic.Int64
			wg       sync.WaitGroup
		)
		// Without keep-alive: Go's client silently resends a GET that
		// failed on a reused connection, which would hide a failure.
		c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 10 * time.Second}
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					req, _ := http.NewRequest(http.MethodGet, r.url+"/", nil)
					req.Host = host
					resp, err := c.Do(req)
					var problem string
					if err != nil {
						problem = err.Error()
					} else {
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						switch {
						case err != nil:
							problem = "reading body: " + err.Error()
						case resp.StatusCode != http.StatusOK:
							problem = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
						case alive != nil && !alive(string(body)):
							problem = "answered by " + string(body)
						}
					}
					if problem != "" {
						mu.Lock()
						failures = append(failures, problem)
						mu.Unlock()
					}
					d := done.Add(1)
					if during != nil {
						during(d)
					}
				}
			}()
		}
		wg.Wait()
		return failures
	}

	names := func(bs []*killableBackend) map[string]bool {
		m := map[string]bool{}
		for _, b := range bs {
			m[b.name] = true
		}
		return m
	}

	Context("when endpoints of one dead cell sit next to each other in the pool", func() {
		It("refuses no request although more dead endpoints follow each other than there are tries", func() {
			var live []*killableBackend
			var addrs []string
			for i := 0; i < 4; i++ {
				addrs = append(addrs, deadAddress())
			}
			for i := 0; i < 4; i++ {
				b := newKillableBackend(fmt.Sprintf("live-%d", i))
				live = append(live, b)
				addrs = append(addrs, b.addr)
			}
			register(addrs...)
			alive := names(live)
			Expect(fire(200, 1, func(b string) bool { return alive[b] }, nil)).To(BeEmpty())
		})
	})

	Context("when a backend dies with idle keep-alive connections in the router's pool", func() {
		DescribeTable("sends the next requests to live endpoints",
			func(reset bool) {
				all := started("b", 6)
				// Several idle connections to every backend.
				Expect(fire(120, 6, nil, nil)).To(BeEmpty())
				for _, b := range all[:3] {
					b.kill(reset)
				}
				alive := names(all[3:])
				Expect(fire(300, 6, func(b string) bool { return alive[b] }, nil)).To(BeEmpty())
			},
			Entry("reset (RST)", true),
			Entry("closed (FIN)", false),
		)
	})

	Context("when a backend dies with a request in flight", func() {
		DescribeTable("answers that request from another endpoint",
			func(reset bool) {
				dying, steady := newKillableBackend("dying"), newKillableBackend("steady")
				register(dying.addr, steady.addr)
				Expect(fire(10, 1, nil, nil)).To(BeEmpty())
				dying.hold.Store(true)
				results := make(chan []string, 1)
				go func() {
					defer GinkgoRecover()
					results <- fire(4, 4, func(b string) bool { return b == "steady" }, nil)
				}()
				Eventually(dying.held.Load).Should(BeNumerically(">=", 1))
				dying.kill(reset)
				Eventually(results).Should(Receive(BeEmpty()))
			},
			Entry("reset (RST) before any response byte", true),
			Entry("closed (EOF) before any response byte", false),
		)

		It("answers from another endpoint when the backend resets after reading the request", func() {
			all := started("b", 6)
			Expect(fire(60, 3, nil, nil)).To(BeEmpty())
			// Three neighbours in the pool accept and read, then die.
			for _, b := range all[:3] {
				b.resetting.Store(true)
			}
			alive := names(all[3:])
			Expect(fire(300, 1, func(b string) bool { return alive[b] }, nil)).To(BeEmpty())
			Expect(all[0].resets.Load() + all[1].resets.Load() + all[2].resets.Load()).To(BeNumerically(">=", 1))
		})

		It("sends a small PUT body again to another endpoint when the backend resets after reading it", func() {
			all := started("b", 4)
			Expect(fire(20, 1, nil, nil)).To(BeEmpty())
			for _, b := range all[:2] {
				b.resetting.Store(true)
			}
			payload := strings.Repeat("x", 10000)
			for i := 0; i < 20; i++ {
				req, err := http.NewRequest(http.MethodPut, r.url+"/", strings.NewReader(payload))
				Expect(err).NotTo(HaveOccurred())
				req.Host = host
				resp, err := newClient().Do(req)
				Expect(err).NotTo(HaveOccurred())
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
				Expect(string(body)).To(MatchRegexp(`^b-[23] got 10000 bytes$`))
			}
			Expect(all[0].resets.Load() + all[1].resets.Load()).To(BeNumerically(">=", 1))
		})

		It("answers from another endpoint when the backend resets in the middle of a small response body", func() {
			cutter, cuts := midBodyResetter(4000)
			whole := newKillableBackend(strings.Repeat("w", 4000))
			register(cutter, whole.addr)
			Expect(fire(20, 1, func(b string) bool { return b == whole.name }, nil)).To(BeEmpty())
			Expect(cuts.Load()).To(BeNumerically(">=", 1))
		})
	})

	Context("when one machine's endpoints fail and the pool has never answered yet", func() {
		It("retries on another machine's endpoint rather than a neighbour on the same address", func() {
			// Six instances on a machine that accepts and resets, two on
			// another (loopback addresses stand for the machines).
			var addrs []string
			var dying []*killableBackend
			for i := 0; i < 6; i++ {
				b := newKillableBackendOn("127.0.0.2", fmt.Sprintf("dying-%d", i))
				b.resetting.Store(true)
				dying = append(dying, b)
				addrs = append(addrs, b.addr)
			}
			var live []*killableBackend
			for i := 0; i < 2; i++ {
				b := newKillableBackendOn("127.0.0.3", fmt.Sprintf("live-%d", i))
				live = append(live, b)
				addrs = append(addrs, b.addr)
			}
			alive := names(live)
			// Every hostname is a fresh pool: no endpoint has answered,
			// so only the address tells the retry where to go.
			for k := 0; k < 5; k++ {
				host = uniqueHost("machines")
				register(addrs...)
				Expect(fire(10, 1, func(b string) bool { return alive[b] }, nil)).To(BeEmpty())
			}
			for _, b := range dying {
				Expect(b.resets.Load()).To(BeNumerically("<=", 5), b.name)
			}
		})
	})

	Context("when the endpoint a request was on is unregistered and the route moves", func() {
		It("retries on the route's current endpoints", func() {
			old := newKillableBackend("old")
			register(old.addr)
			Expect(fire(2, 1, nil, nil)).To(BeEmpty())
			old.hold.Store(true)
			results := make(chan []string, 1)
			go func() {
				defer GinkgoRecover()
				results <- fire(1, 1, func(b string) bool { return b == "new" }, nil)
			}()
			Eventually(old.held.Load).Should(Equal(int64(1)))
			publish(nc, messages.SubjectUnregister, endpointFor(old.addr, host))
			Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(BeZero())
			register(newKillableBackend("new").addr)
			old.kill(true)
			Eventually(results).Should(Receive(BeEmpty()))
		})
	})

	Context("when 2 of 10 cells die under load", func() {
		It("fails no request", func() {
			// 10 cells x 5 instances, each cell's instances registered
			// together, as an emitter does after a cell starts them.
			var cells [][]*killableBackend
			var survivors []*killableBackend
			for c := 0; c < 10; c++ {
				cell := started(fmt.Sprintf("cell-%d", c), 5)
				cells = append(cells, cell)
				if c >= 2 {
					survivors = append(survivors, cell...)
				}
			}
			Expect(fire(200, 8, nil, nil)).To(BeEmpty())
			var killed atomic.Bool
			kill := func(done int64) {
				if done == 100 && killed.CompareAndSwap(false, true) {
					for i, b := range cells[0] {
						// Some processes die after accepting and reading a
						// request, the rest with their sockets.
						if i < 2 {
							b.resetting.Store(true)
						} else {
							b.kill(true)
						}
					}
					for _, b := range cells[1] {
						b.kill(false)
					}
				}
			}
			// Two workers: requests rarely overlap, as at the chaos
			// benchmark's rate, so the round-robin cursor moves one step
			// per attempt.
			Expect(fire(800, 2, nil, kill)).To(BeEmpty())
			Expect(killed.Load()).To(BeTrue())
			alive := names(survivors)
			Expect(fire(100, 2, func(b string) bool { return alive[b] }, nil)).To(BeEmpty())
		})
	})
})
