package netguard_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/netguard"
)

func TestNetguard(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Netguard Suite")
}

// serveOn starts an HTTP server on a loopback address of its own (every
// 127.0.0.0/8 address is this host's loopback on Linux).
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

var _ = Describe("DenyList", func() {
	DescribeTable("what it denies by default",
		func(addr string, denied bool) {
			d, err := netguard.New()
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Denies(netip.MustParseAddr(addr))).To(Equal(denied))
		},
		Entry("cloud metadata", "169.254.169.254", true),
		Entry("loopback", "127.0.0.1", true),
		Entry("another loopback address", "127.5.6.7", true),
		Entry("0.0.0.0, which connects to the host", "0.0.0.0", true),
		Entry("IPv6 loopback", "::1", true),
		Entry("IPv4-mapped loopback", "::ffff:127.0.0.1", true),
		Entry("IPv6 link-local", "fe80::1", true),
		Entry("a public address", "192.0.2.10", false),
	)

	It("refuses an entry that is neither an address nor a CIDR", func() {
		_, err := netguard.New("10.0.0.0/33")
		Expect(err).To(MatchError(ContainSubstring("neither an address nor a CIDR")))
	})

	It("adds the host's own addresses", func() {
		d, err := netguard.DenyList{}.WithHostAddresses()
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Denies(netip.MustParseAddr("127.0.0.1"))).To(BeTrue())
	})

	Describe("its HTTP client", func() {
		// Only 127.0.0.2 and 127.0.0.3 are denied here: the rest of loopback
		// stands in for the outside world.
		var client *http.Client
		var deniedHits atomic.Int32

		BeforeEach(func() {
			deniedHits.Store(0)
			d, err := netguard.Parse("127.0.0.2", "127.0.0.3/32")
			Expect(err).NotTo(HaveOccurred())
			client = d.HTTPClient(5 * time.Second)
		})

		denied := func() *httptest.Server {
			return serveOn("127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
				deniedHits.Add(1)
				io.WriteString(w, "secret metadata")
			})
		}

		It("reaches an allowed address", func() {
			ok := serveOn("127.0.0.1", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
			resp, err := client.Get(ok.URL)
			Expect(err).NotTo(HaveOccurred())
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(string(body)).To(Equal("hello"))
		})

		It("refuses a name that resolves to a denied address", func() {
			d, err := netguard.New() // loopback denied, as in a daemon
			Expect(err).NotTo(HaveOccurred())
			target := serveOn("127.0.0.1", func(w http.ResponseWriter, r *http.Request) { deniedHits.Add(1) })
			_, port, _ := net.SplitHostPort(target.Listener.Addr().String())
			_, err = d.HTTPClient(5 * time.Second).Get("http://localhost:" + port + "/")
			Expect(errors.Is(err, netguard.ErrDenied)).To(BeTrue(), "%v", err)
			Expect(deniedHits.Load()).To(BeZero())
		})

		It("refuses a denied address before a byte is sent", func() {
			_, err := client.Get(denied().URL)
			Expect(errors.Is(err, netguard.ErrDenied)).To(BeTrue(), "%v", err)
			Expect(deniedHits.Load()).To(BeZero())
		})

		It("refuses a redirect into a denied address", func() {
			target := denied()
			hop := serveOn("127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/latest/meta-data/", http.StatusFound)
			})
			_, err := client.Get(hop.URL)
			Expect(errors.Is(err, netguard.ErrDenied)).To(BeTrue(), "%v", err)
			Expect(deniedHits.Load()).To(BeZero())
		})
	})
})
