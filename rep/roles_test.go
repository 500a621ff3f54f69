package rep_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/rep"
	"github.com/diego-runtime/diego/rep/repapi"
)

var _ = Describe("The rep API under mutual TLS", func() {
	var (
		url     string
		certDir string
	)
	auctioneer, bbsID, receptor, otherRep := certs.Of(certs.RoleAuctioneer), certs.Of(certs.RoleBBS), certs.Of(certs.RoleReceptor), certs.Rep("cell-other")

	tlsOf := func(id certs.Identity) transport.TLS {
		f := certs.FilesIn(certDir, id)
		return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
	}
	call := func(id certs.Identity, method, path string) int {
		c, err := transport.NewClient(tlsOf(id), 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		req, err := http.NewRequest(method, url+path, strings.NewReader(`{}`))
		Expect(err).NotTo(HaveOccurred())
		resp, err := c.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		return resp.StatusCode
	}

	BeforeEach(func() {
		certDir = filepath.Join(GinkgoT().TempDir(), "certs")
		_, err := certs.WriteSet(certDir, certs.SetOptions{Identities: []certs.Identity{
			certs.Rep("cell-tls"), auctioneer, bbsID, receptor, otherRep,
		}})
		Expect(err).NotTo(HaveOccurred())
		cfg := rep.DefaultConfig()
		cfg.CellID = "cell-tls"
		cfg.TLS = tlsOf(certs.Rep("cell-tls"))
		cfg.Executor.CellID = cfg.CellID
		cfg.Executor.ExternalIP = tg.ExternalIP
		logs := &logstream.Emitter{Publisher: natsConn, Clock: clock.NewClock(), Logger: logger}
		exec := executor.New(logger, cfg.Executor, tg.Client, logs, natsConn, clock.NewClock())
		r := rep.New(logger, cfg, db, exec, clock.NewClock())
		r.EnableShell(tg.Client)
		server, err := transport.NewLinkServer(cfg.TLS, "127.0.0.1:0", r.Handler())
		Expect(err).NotTo(HaveOccurred())
		url = "https://" + server.Addr()
		p := ifrit.Invoke(server)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive())
		})
	})

	It("tells the auctioneer its state", func() {
		Expect(call(auctioneer, http.MethodGet, repapi.StatePath)).To(Equal(http.StatusOK))
	})

	DescribeTable("refuses a role the endpoint is not for, with 403",
		func(id certs.Identity, method, path string) {
			Expect(call(id, method, path)).To(Equal(http.StatusForbidden))
		},
		Entry("another cell's rep asking for work to run", otherRep, http.MethodPost, repapi.WorkPath),
		Entry("the receptor asking for work to run", receptor, http.MethodPost, repapi.WorkPath),
		Entry("the BBS asking for work to run", bbsID, http.MethodPost, repapi.WorkPath),
		Entry("another cell's rep reading the state", otherRep, http.MethodGet, repapi.StatePath),
		Entry("another cell's rep stopping an instance", otherRep, http.MethodPost, "/v1/lrps/web/instances/some-guid/stop"),
		Entry("the auctioneer cancelling a task", auctioneer, http.MethodPost, "/v1/tasks/some-guid/cancel"),
		Entry("the auctioneer running a process in an instance", auctioneer, http.MethodPost, "/v1/instances/some-guid/processes"),
		Entry("the BBS running a process in an instance", bbsID, http.MethodPost, "/v1/instances/some-guid/processes"),
		Entry("another cell's rep dialling from inside an instance", otherRep, http.MethodPost, "/v1/instances/some-guid/dial"),
		Entry("the auctioneer dialling from inside an instance", auctioneer, http.MethodPost, "/v1/instances/some-guid/dial"),
	)

	It("lets only the receptor past the role check of the shell endpoints", func() {
		// No Upgrade header: refused by the endpoint itself, after the role passed.
		Expect(call(receptor, http.MethodPost, "/v1/instances/some-guid/processes")).To(Equal(http.StatusBadRequest))
		Expect(call(receptor, http.MethodPost, "/v1/instances/some-guid/dial")).To(Equal(http.StatusBadRequest))
	})
})
