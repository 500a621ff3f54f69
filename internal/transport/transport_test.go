package transport_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	"github.com/tedsuo/ifrit"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
)

func TestTransport(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Transport Suite")
}

// tlsOf is the transport TLS block of id's certificate in dir.
func tlsOf(dir string, id certs.Identity) transport.TLS {
	f := certs.FilesIn(dir, id)
	return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
}

var _ = Describe("Mutual TLS between daemons", func() {
	var (
		dir, otherDir string
		serverURL     string
	)
	ids := []certs.Identity{certs.Of(certs.RoleBBS), certs.Of(certs.RoleAuctioneer), certs.Rep("cell-1")}

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "certs")
		otherDir = filepath.Join(GinkgoT().TempDir(), "other")
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		// Another deployment's CA issuing the very same roles.
		_, err = certs.WriteSet(otherDir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())

		logger := lagertest.NewTestLogger("transport")
		mux := http.NewServeMux()
		mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
			id, err := transport.PeerIdentity(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"role": id.Role, "cell": id.CellID})
		})
		mux.Handle("POST /work", transport.RequireRoles(logger, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
		}), certs.RoleAuctioneer))
		srv, err := transport.NewServer(tlsOf(dir, certs.Rep("cell-1")), "127.0.0.1:0", mux)
		Expect(err).NotTo(HaveOccurred())
		srv.ShutdownTimeout = time.Second
		p := ifrit.Invoke(srv)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 5*time.Second).Should(Receive())
		})
		serverURL = "https://" + srv.Addr()
	})

	clientOf := func(t transport.TLS) *http.Client {
		c, err := transport.NewClient(t, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		return c
	}
	// postWork POSTs /work and returns the status, or the error of a refused connection.
	postWork := func(c *http.Client) (int, error) {
		resp, err := c.Post(serverURL+"/work", "application/json", nil)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	It("accepts a caller with a certificate of its CA and tells the handler the caller's role and cell", func() {
		resp, err := clientOf(tlsOf(dir, certs.Rep("cell-1"))).Get(serverURL + "/whoami")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		var got map[string]string
		Expect(json.NewDecoder(resp.Body).Decode(&got)).To(Succeed())
		Expect(got).To(Equal(map[string]string{"role": "rep", "cell": "cell-1"}))

		Expect(postWork(clientOf(tlsOf(dir, certs.Of(certs.RoleAuctioneer))))).To(Equal(http.StatusAccepted))
	})

	It("refuses a caller without a client certificate", func() {
		caOnly := tlsOf(dir, certs.Of(certs.RoleBBS))
		pool, err := caOnly.ClientConfig()
		Expect(err).NotTo(HaveOccurred())
		noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool.RootCAs, MinVersion: tls.VersionTLS12},
		}}
		_, err = postWork(noCert)
		Expect(err).To(MatchError(ContainSubstring("certificate required")))
	})

	It("refuses plain HTTP", func() {
		status, err := postWork(&http.Client{Timeout: 5 * time.Second})
		if err == nil {
			Expect(status).NotTo(Equal(http.StatusAccepted))
		}
	})

	It("refuses a caller whose certificate names the right role but comes from another CA", func() {
		stranger := tlsOf(otherDir, certs.Of(certs.RoleAuctioneer))
		stranger.CACertFile = filepath.Join(dir, certs.CACertFile) // it even trusts our server
		_, err := postWork(clientOf(stranger))
		Expect(err).To(MatchError(ContainSubstring("unknown certificate authority")))
	})

	It("does not trust a server whose certificate comes from another CA", func() {
		_, err := postWork(clientOf(tlsOf(otherDir, certs.Of(certs.RoleAuctioneer))))
		Expect(err).To(MatchError(ContainSubstring("certificate signed by unknown authority")))
	})

	DescribeTable("refuses a valid certificate of a role the endpoint is not for, with 403 Forbidden",
		func(id certs.Identity) {
			resp, err := clientOf(tlsOf(dir, id)).Post(serverURL+"/work", "application/json", nil)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
			var body map[string]string
			Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
			Expect(body["name"]).To(Equal(transport.ForbiddenName))
			Expect(body["message"]).To(ContainSubstring(id.String()))
		},
		Entry("the BBS", certs.Of(certs.RoleBBS)),
		Entry("a rep", certs.Rep("cell-1")),
	)
})

var _ = DescribeTable("a daemon link without TLS",
	func(address string, allowed bool) {
		l, err := transport.ListenLink(transport.TLS{}, address)
		if allowed {
			Expect(err).NotTo(HaveOccurred())
			l.Close()
			return
		}
		Expect(err).To(MatchError(transport.ErrPlainOffLoopback))
	},
	Entry("listens on 127.0.0.1", "127.0.0.1:0", true),
	Entry("listens on ::1", "[::1]:0", true),
	Entry("listens on localhost", "localhost:0", true),
	Entry("refuses every address", ":0", false),
	Entry("refuses 0.0.0.0", "0.0.0.0:0", false),
)
