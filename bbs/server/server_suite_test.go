package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/transport"
)

func TestServer(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "BBS Server Suite")
}

var (
	etcd       *etcdrunner.Runner
	etcdClient *clientv3.Client

	logger     *lagertest.TestLogger
	auctioneer *recorder
	bbsURL     string
	bbsClient  *client.Client
	process    ifrit.Process
)

var _ = BeforeSuite(func() {
	var endpoint string
	etcd, endpoint = etcdrunner.StartForTest(GinkgoT().TempDir())
	DeferCleanup(etcd.Stop)
	var err error
	etcdClient, err = etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(etcdClient.Close)
	Expect(etcdrunner.WaitReady(etcdClient, 10*time.Second)).To(Succeed())
})

// recorder stands in for the auctioneer: it records the paths it was sent.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newRecorder() *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.Path)
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	return r
}

func (r *recorder) Paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

func startServer() (string, ifrit.Process) {
	db, err := bbs.New(bbs.Options{
		Client: etcdClient,
		Logger: logger,
		Auctioneer: &auctioneerapi.Client{HTTP: http.DefaultClient, Locate: func(context.Context) (string, error) {
			return auctioneer.URL, nil
		}},
		RequestTimeout: time.Second,
	})
	Expect(err).NotTo(HaveOccurred())
	srv, err := transport.NewServer(transport.TLS{}, "127.0.0.1:0", server.New(logger, db, server.Options{
		RequestTimeout: 2 * time.Second, MaxBodyBytes: 64 * 1024, KeepaliveInterval: 200 * time.Millisecond,
	}))
	Expect(err).NotTo(HaveOccurred())
	srv.ShutdownTimeout = time.Second
	p := ifrit.Invoke(srv)
	DeferCleanup(func() {
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 10*time.Second).Should(Receive())
	})
	return "http://" + srv.Addr(), p
}

var _ = BeforeEach(func() {
	_, err := etcdClient.Delete(context.Background(), "/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	logger = lagertest.NewTestLogger("bbs-server-test")
	auctioneer = newRecorder()
	DeferCleanup(auctioneer.Close)
	bbsURL, process = startServer()
	bbsClient = client.NewClient(&http.Client{Timeout: 5 * time.Second}, bbsURL)
})
