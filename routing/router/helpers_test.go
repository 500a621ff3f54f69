package router_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/types"
	"github.com/tedsuo/ifrit"
	ginkgomon "github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

var hostSeq atomic.Int64

// uniqueHost returns a hostname no other spec uses, since all routers in the
// suite share one NATS server.
func uniqueHost(name string) string {
	return fmt.Sprintf("%s-%d.example.com", name, hostSeq.Add(1))
}

// testRouter is a real router on 127.0.0.1:random, fed by the suite's NATS.
type testRouter struct {
	*router.Router
	process   ifrit.Process
	accessLog *gbytes.Buffer
	url       string
}

func startRouter(mutate func(*router.Config), opts router.Options) *testRouter {
	config := router.DefaultConfig()
	config.ListenAddress = "127.0.0.1:0"
	config.NATSURLs = []string{natsURL}
	config.ShutdownTimeout = time.Duration(5 * time.Second)
	if mutate != nil {
		mutate(&config)
	}
	access := gbytes.NewBuffer()
	if opts.AccessLog == nil {
		opts.AccessLog = access
	}
	logger := lager.NewLogger("router-test")
	logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))
	r, err := router.New(logger, config, opts)
	Expect(err).NotTo(HaveOccurred())
	process := ginkgomon.Invoke(r)
	DeferCleanup(func() { ginkgomon.Interrupt(process, 10*time.Second) })
	return &testRouter{Router: r, process: process, accessLog: access, url: "http://" + r.Addr()}
}

func natsConn() *nats.Conn {
	nc, err := nats.Connect(natsURL)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(nc.Close)
	return nc
}

func publish(nc *nats.Conn, subject string, v any) {
	var data []byte
	switch x := v.(type) {
	case []byte:
		data = x
	case string:
		data = []byte(x)
	default:
		var err error
		data, err = json.Marshal(v)
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(nc.Publish(subject, data)).To(Succeed())
	Expect(nc.Flush()).To(Succeed())
}

// endpointFor turns a backend URL (or "host:port") into a registry message.
func endpointFor(backend string, uris ...string) messages.RegistryMessage {
	hostport := backend
	if strings.Contains(backend, "://") {
		u, err := url.Parse(backend)
		Expect(err).NotTo(HaveOccurred())
		hostport = u.Host
	}
	h, p, err := net.SplitHostPort(hostport)
	Expect(err).NotTo(HaveOccurred())
	port, err := strconv.Atoi(p)
	Expect(err).NotTo(HaveOccurred())
	return messages.RegistryMessage{Host: h, Port: uint16(port), URIs: uris, App: "app-guid",
		PrivateInstanceID: "instance-" + p, PrivateInstanceIndex: "0"}
}

// namedBackend answers every request with its name.
func namedBackend(name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, name)
	}))
	DeferCleanup(s.Close)
	return s
}

// deadAddress is a loopback address where nothing listens (connect refused).
func deadAddress() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	return addr
}

// resettingBackend accepts connections, reads the request head and closes
// the connection without answering; it counts the connections it saw.
func resettingBackend() (string, *atomic.Int64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(l.Close)
	var count atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			count.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // RST rather than FIN
				}
			}()
		}
	}()
	return l.Addr().String(), &count
}

// client never reuses idle connections between specs and never follows
// redirects; every request names the route in its Host header.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
}

func get(client *http.Client, routerURL, host, path string) (int, string, http.Header) {
	req, err := http.NewRequest(http.MethodGet, routerURL+path, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Host = host
	resp, err := client.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body), resp.Header
}

// bodyOf returns a function for Eventually that GETs host through the router.
func bodyOf(client *http.Client, routerURL, host string) func() string {
	return func() string {
		status, body, _ := get(client, routerURL, host, "/")
		return strconv.Itoa(status) + " " + body
	}
}

func metricValue(r *router.Router, name string, labels ...string) float64 {
	families, err := r.Registry().Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func signalAndWait(p ifrit.Process) error {
	p.Signal(os.Interrupt)
	select {
	case err := <-p.Wait():
		return err
	case <-time.After(10 * time.Second):
		Fail("process did not exit")
		return nil
	}
}

func joinLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

func gbytesSay(pattern string) types.GomegaMatcher { return gbytes.Say(pattern) }
