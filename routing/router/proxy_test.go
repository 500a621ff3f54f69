package router_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

var _ = Describe("Router proxying", func() {
	var (
		nc     *nats.Conn
		client *http.Client
		r      *testRouter
		host   string
	)

	BeforeEach(func() {
		nc = natsConn()
		client = newClient()
		host = uniqueHost("proxy")
	})

	register := func(addrs ...string) {
		for _, a := range addrs {
			publish(nc, messages.SubjectRegister, endpointFor(a, host))
		}
		Eventually(func() int { return r.Table().Lookup(host).Len() }).Should(Equal(len(addrs)))
	}

	Context("with default settings", func() {
		BeforeEach(func() {
			r = startRouter(func(c *router.Config) { c.DialTimeout = time.Duration(200 * time.Millisecond) }, router.Options{})
		})

		Context("when some endpoints refuse connections", func() {
			It("retries on another endpoint with zero client-visible errors and holds the dead ones off", func() {
				register(deadAddress(), namedBackend("alive").URL, deadAddress())
				for i := 0; i < 60; i++ {
					status, body, _ := get(client, r.url, host, "/")
					Expect(status).To(Equal(http.StatusOK))
					Expect(body).To(Equal("alive"))
				}
				// Each dead endpoint failed once, then was held off.
				Expect(metricValue(r.Router, "diego_router_retries_total", "route", host)).To(Equal(2.0))
			})

			It("gives up quickly on an endpoint that cannot be reached and uses another", func() {
				// TEST-NET-1 is never routed: the dial times out (or fails
				// at once when there is no route at all).
				register("192.0.2.1:80", namedBackend("reachable").URL)
				for i := 0; i < 4; i++ {
					start := time.Now()
					Expect(bodyOf(client, r.url, host)()).To(Equal("200 reachable"))
					Expect(time.Since(start)).To(BeNumerically("<", time.Second))
				}
			})

			It("replays a request body that was never sent", func() {
				echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					b, _ := io.ReadAll(req.Body) // all of it before answering (HTTP/1.x)
					w.Write(b)
				}))
				DeferCleanup(echo.Close)
				register(deadAddress(), echo.URL)
				for i := 0; i < 6; i++ {
					payload := fmt.Sprintf("payload-%d-%s", i, strings.Repeat("x", 10000))
					req, err := http.NewRequest(http.MethodPost, r.url+"/", strings.NewReader(payload))
					Expect(err).NotTo(HaveOccurred())
					req.Host = host
					resp, err := client.Do(req)
					Expect(err).NotTo(HaveOccurred())
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					Expect(resp.StatusCode).To(Equal(http.StatusOK))
					Expect(len(body)).To(Equal(len(payload)), fmt.Sprintf("request %d", i))
					Expect(string(body)).To(Equal(payload))
				}
			})
		})

		It("retries an endpoint that resets an idempotent request before answering", func() {
			resetter, resets := resettingBackend()
			register(resetter, namedBackend("steady").URL)
			for i := 0; i < 10; i++ {
				Expect(bodyOf(client, r.url, host)()).To(Equal("200 steady"))
			}
			Expect(resets.Load()).To(BeNumerically(">=", 1))
		})

		It("does not retry a request whose body may have reached the application", func() {
			resetter, resets := resettingBackend()
			register(resetter)
			req, err := http.NewRequest(http.MethodPost, r.url+"/", strings.NewReader("charge the card"))
			Expect(err).NotTo(HaveOccurred())
			req.Host = host
			resp, err := client.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusBadGateway))
			Expect(resets.Load()).To(Equal(int64(1)))
		})

		It("answers 502 naming the host only when every endpoint failed, within the bounded tries", func() {
			var addrs []string
			var counters []interface{ Load() int64 }
			for i := 0; i < 5; i++ {
				a, c := resettingBackend()
				addrs, counters = append(addrs, a), append(counters, c)
			}
			register(addrs...)
			status, body, header := get(client, r.url, host, "/")
			Expect(status).To(Equal(http.StatusBadGateway))
			Expect(body).To(ContainSubstring("all 3 endpoint attempts for " + host + " failed"))
			Expect(header.Get(router.HeaderRouterError)).To(Equal("endpoint_failure"))
			total := int64(0)
			for _, c := range counters {
				total += c.Load()
			}
			Expect(total).To(Equal(int64(3)))
		})

		It("answers 502 when the only endpoints refuse connections", func() {
			register(deadAddress(), deadAddress())
			status, body, _ := get(client, r.url, host, "/")
			Expect(status).To(Equal(http.StatusBadGateway))
			Expect(body).To(ContainSubstring("connection refused"))
			Expect(metricValue(r.Router, "diego_router_requests_total", "route", host, "status_class", "5xx")).To(Equal(1.0))
		})

		It("sets X-Forwarded-For, X-Forwarded-Proto and X-Request-Id", func() {
			seen := make(chan http.Header, 3)
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				seen <- req.Header.Clone()
			}))
			DeferCleanup(backend.Close)
			register(backend.URL)

			req, _ := http.NewRequest(http.MethodGet, r.url+"/", nil)
			req.Host = host
			resp, err := client.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			h := <-seen
			Expect(h.Get("X-Forwarded-For")).To(Equal("127.0.0.1"))
			Expect(h.Get("X-Forwarded-Proto")).To(Equal("http"))
			Expect(h.Get("X-Request-Id")).To(MatchRegexp(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`))
			Expect(resp.Header.Get("X-Request-Id")).To(Equal(h.Get("X-Request-Id")))

			req, _ = http.NewRequest(http.MethodGet, r.url+"/", nil)
			req.Host = host
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Request-Id", "caller-chosen-id")
			resp, err = client.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			h = <-seen
			Expect(h.Get("X-Forwarded-For")).To(Equal("203.0.113.7, 127.0.0.1"))
			Expect(h.Get("X-Forwarded-Proto")).To(Equal("https"))
			Expect(h.Get("X-Request-Id")).To(Equal("caller-chosen-id"))
			Eventually(r.accessLog).Should(gbytesSay(`request_id="caller-chosen-id"`))
		})

		It("writes one access log line per request", func() {
			backend := namedBackend("logged")
			register(backend.URL)
			status, _, _ := get(client, r.url, host, "/path?q=1")
			Expect(status).To(Equal(http.StatusOK))
			addr := strings.TrimPrefix(backend.URL, "http://")
			Eventually(r.accessLog).Should(gbytesSay(
				`host="` + host + `" method=GET path="/path\?q=1" status=200 bytes=6 duration_ms=[0-9.]+ backend=` +
					addr + ` app="app-guid" tries=1 request_id="[0-9a-f-]{36}" remote=127\.0\.0\.1:\d+`))
		})

		It("serves per-route counts and latencies on /metrics", func() {
			register(namedBackend("measured").URL)
			for i := 0; i < 3; i++ {
				get(client, r.url, host, "/")
			}
			debug := httptest.NewServer(r.DebugHandler())
			DeferCleanup(debug.Close)
			status, body, _ := get(client, debug.URL, "", "/metrics")
			Expect(status).To(Equal(http.StatusOK))
			Expect(body).To(ContainSubstring(`diego_router_requests_total{route="` + host + `",status_class="2xx"} 3`))
			Expect(body).To(ContainSubstring(`diego_router_request_duration_seconds_count{route="` + host + `"} 3`))
			Expect(body).To(ContainSubstring(`diego_router_registrations_total{result="added"}`))
			status, _, _ = get(client, debug.URL, "", "/ping")
			Expect(status).To(Equal(http.StatusOK))
			status, body, _ = get(client, debug.URL, "", "/routes")
			Expect(status).To(Equal(http.StatusOK))
			Expect(body).To(ContainSubstring(`"` + host + `":["127.0.0.1:`))
		})

		It("reuses client connections (keep-alive)", func() {
			register(namedBackend("kept-alive").URL)
			reused := 0
			for i := 0; i < 5; i++ {
				req, _ := http.NewRequest(http.MethodGet, r.url+"/", nil)
				req.Host = host
				req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					GotConn: func(info httptrace.GotConnInfo) {
						if info.Reused {
							reused++
						}
					},
				}))
				resp, err := client.Do(req)
				Expect(err).NotTo(HaveOccurred())
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			Expect(reused).To(Equal(4))
		})

		It("streams a response as the backend writes it", func() {
			release := make(chan struct{})
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				fmt.Fprint(w, "first\n")
				w.(http.Flusher).Flush()
				<-release
				fmt.Fprint(w, "second\n")
			}))
			DeferCleanup(backend.Close)
			register(backend.URL)

			req, _ := http.NewRequest(http.MethodGet, r.url+"/", nil)
			req.Host = host
			resp, err := client.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			reader := bufio.NewReader(resp.Body)
			line, err := reader.ReadString('\n')
			Expect(err).NotTo(HaveOccurred())
			Expect(line).To(Equal("first\n"))
			close(release)
			line, err = reader.ReadString('\n')
			Expect(err).NotTo(HaveOccurred())
			Expect(line).To(Equal("second\n"))
		})

		It("frees the backend when the client disconnects mid-stream", func() {
			cancelled := make(chan struct{})
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				for {
					select {
					case <-req.Context().Done():
						close(cancelled)
						return
					case <-time.After(20 * time.Millisecond):
						fmt.Fprint(w, "tick\n")
						w.(http.Flusher).Flush()
					}
				}
			}))
			DeferCleanup(backend.Close)
			register(backend.URL)

			conn, err := net.Dial("tcp", r.Addr())
			Expect(err).NotTo(HaveOccurred())
			fmt.Fprintf(conn, "GET /stream HTTP/1.1\r\nHost: %s\r\n\r\n", host)
			reader := bufio.NewReader(conn)
			Eventually(func() string { l, _ := reader.ReadString('\n'); return l }).Should(Equal("tick\n"))
			Expect(conn.Close()).To(Succeed())
			Eventually(cancelled).Should(BeClosed())
		})

		It("passes WebSocket upgrades through", func() {
			upgrader := websocket.Upgrader{}
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				ws, err := upgrader.Upgrade(w, req, nil)
				if err != nil {
					return
				}
				defer ws.Close()
				for {
					kind, msg, err := ws.ReadMessage()
					if err != nil {
						return
					}
					ws.WriteMessage(kind, append([]byte("echo: "), msg...))
				}
			}))
			DeferCleanup(backend.Close)
			register(backend.URL)

			ws, resp, err := websocket.DefaultDialer.Dial("ws://"+r.Addr()+"/socket", http.Header{"Host": {host}})
			Expect(err).NotTo(HaveOccurred())
			defer ws.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusSwitchingProtocols))
			for _, m := range []string{"hello", "again"} {
				Expect(ws.WriteMessage(websocket.TextMessage, []byte(m))).To(Succeed())
				_, got, err := ws.ReadMessage()
				Expect(err).NotTo(HaveOccurred())
				Expect(string(got)).To(Equal("echo: " + m))
			}
		})

		Context("request smuggling", func() {
			rawRequest := func(raw string) string {
				conn, err := net.Dial("tcp", r.Addr())
				Expect(err).NotTo(HaveOccurred())
				defer conn.Close()
				_, err = conn.Write([]byte(raw))
				Expect(err).NotTo(HaveOccurred())
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				out, _ := io.ReadAll(conn) // the router closes after these
				return string(out)
			}

			BeforeEach(func() { register(namedBackend("smuggle-target").URL) })

			DescribeTable("refuses conflicting Content-Length and Transfer-Encoding with 400",
				func(headers string) {
					out := rawRequest("POST / HTTP/1.1\r\nHost: " + host + "\r\n" + headers +
						"\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
					Expect(out).To(HavePrefix("HTTP/1.1 400 "))
					Expect(out).NotTo(ContainSubstring("smuggle-target"))
					Expect(strings.Count(out, "HTTP/1.1 ")).To(Equal(1))
				},
				Entry("CL then TE", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
				Entry("TE then CL", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
				Entry("odd case", "content-LENGTH: 5\r\ntransfer-encoding: chunked\r\n"),
			)

			It("refuses a conflicting request that follows honest ones on the same connection", func() {
				out := rawRequest(
					"POST / HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
						"5\r\nhello\r\n4;ext=1\r\nbody\r\n0\r\nTrailer: x\r\n\r\n" +
						"POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 11\r\n\r\n" +
						"Content-Len" +
						"POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
				Expect(strings.Count(out, "HTTP/1.1 200 OK")).To(Equal(2))
				Expect(out).To(ContainSubstring("HTTP/1.1 400 Bad Request"))
			})

			It("keeps checking a connection whose Upgrade request was not switched", func() {
				out := rawRequest(
					"GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" +
						"POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
				Expect(strings.Count(out, "HTTP/1.1 200 OK")).To(Equal(1))
				Expect(out).To(ContainSubstring("HTTP/1.1 400 Bad Request"))
			})
		})
	})

	Context("shutting down", func() {
		It("finishes in-flight requests and stops accepting new ones", func() {
			r = startRouter(nil, router.Options{})
			started, release := make(chan struct{}), make(chan struct{})
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				close(started)
				<-release
				fmt.Fprint(w, "finished")
			}))
			DeferCleanup(backend.Close)
			register(backend.URL)

			result := make(chan string, 1)
			go func() {
				defer GinkgoRecover()
				result <- bodyOf(newClient(), r.url, host)()
			}()
			Eventually(started).Should(BeClosed())

			exited := make(chan error, 1)
			go func() { exited <- signalAndWait(r.process) }()
			Eventually(func() error {
				conn, err := net.DialTimeout("tcp", r.Addr(), time.Second)
				if err == nil {
					conn.Close()
				}
				return err
			}).Should(HaveOccurred())
			Consistently(exited, 200*time.Millisecond).ShouldNot(Receive())

			close(release)
			Eventually(result).Should(Receive(Equal("200 finished")))
			Eventually(exited).Should(Receive(BeNil()))
		})
	})
})
