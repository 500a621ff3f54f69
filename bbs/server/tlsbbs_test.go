package server_test

import (
	"context"
	"net/http"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/internal/transport"
)

// startTLSBBS serves a BBS over the suite's etcd with the given server
// certificate (mutual TLS, so authz sees each caller's role) until the spec
// ends, and returns its https URL.
func startTLSBBS(serverTLS transport.TLS) string {
	GinkgoHelper()
	db, err := bbs.New(bbs.Options{
		Client: etcdClient, Logger: logger, RequestTimeout: time.Second,
		Auctioneer: &auctioneerapi.Client{HTTP: http.DefaultClient, Locate: func(context.Context) (string, error) {
			return auctioneer.URL, nil
		}},
	})
	Expect(err).NotTo(HaveOccurred())
	srv, err := transport.NewServer(serverTLS, "127.0.0.1:0", server.New(logger, db, server.Options{RequestTimeout: 2 * time.Second}))
	Expect(err).NotTo(HaveOccurred())
	srv.ShutdownTimeout = time.Second
	p := ifrit.Invoke(srv)
	DeferCleanup(func() {
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 10*time.Second).Should(Receive())
	})
	return "https://" + srv.Addr()
}
