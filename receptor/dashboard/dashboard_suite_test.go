package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/receptor"
	"github.com/diego-runtime/diego/receptor/dashboard"
)

func TestDashboard(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Dashboard Suite")
}

// The receptor answers the API straight over the real DB (no auctioneer, no
// reps: the specs act as the cells themselves).
var _ receptor.BBS = (*bbs.DB)(nil)

var (
	etcdClient *clientv3.Client
	db         *bbs.DB
	logger     lager.Logger
	server     *httptest.Server
	serverURL  string
	browser    context.Context        // the headless Chromium every spec opens a tab in
	usage      *receptor.MetricsCache // the specs publish instance usage into it, as NATS would
)

var _ = BeforeSuite(func() {
	etcd, endpoint := etcdrunner.StartForTest(GinkgoT().TempDir())
	DeferCleanup(etcd.Stop)
	var err error
	etcdClient, err = etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(etcdClient.Close)
	Expect(etcdrunner.WaitReady(etcdClient, 10*time.Second)).To(Succeed())

	logger = lager.NewLogger("dashboard-test")
	db, err = bbs.New(bbs.Options{Client: etcdClient, Logger: logger, RequestTimeout: 2 * time.Second})
	Expect(err).NotTo(HaveOccurred())

	// The page next to the API, as the receptor serves them.
	usage = receptor.NewMetricsCache(logger, clock.NewClock(), time.Minute)
	api := receptor.NewHandler(logger, db, receptor.Options{KeepaliveInterval: time.Second, Metrics: usage})
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	dashboard.Mount(mux)
	server = httptest.NewServer(mux)
	serverURL = server.URL
	DeferCleanup(func() {
		api.CloseStreams()
		server.CloseClientConnections()
		server.Close()
	})

	path, err := exec.LookPath("chromium")
	Expect(err).NotTo(HaveOccurred(), "the dashboard test needs Debian's chromium: run scripts/setup.sh")
	// chromedp's defaults already disable background networking, sync, first-run
	// and throttling, and give the browser a fresh temporary profile.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	DeferCleanup(cancelAlloc)
	var cancelBrowser context.CancelFunc
	browser, cancelBrowser = chromedp.NewContext(alloc)
	DeferCleanup(cancelBrowser)
	// The first run starts the browser, which lives as long as this context: no
	// timeout here (chromedp's rule), the allocator bounds the start itself.
	Expect(chromedp.Do(browser)).To(Succeed(), "starting chromium")
})
