package auctioneer_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/auctioneer"
	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/auctioneer/simulation"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Daemon", func() {
	const lockTTL = 2 * time.Second
	var (
		endpoint string
		cluster  *simulation.Cluster
		bbs      *simulation.BBS
		observer *clientv3.Client
		api      *auctioneerapi.Client
	)

	newEtcdClient := func() *clientv3.Client {
		c, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
		Expect(err).NotTo(HaveOccurred())
		Expect(etcdrunner.WaitReady(c, 10*time.Second)).To(Succeed())
		DeferCleanup(func() { _ = c.Close() })
		return c
	}

	startDaemon := func(name string, etcd *clientv3.Client) (*auctioneer.Daemon, ifrit.Process) {
		cfg := auctioneer.DefaultConfig()
		cfg.ListenAddress = "127.0.0.1:0"
		cfg.DebugAddress = "127.0.0.1:0"
		cfg.LockTTL = lockTTL
		cfg.CellStateTimeout = 300 * time.Millisecond
		cfg.RetryDelay = 100 * time.Millisecond
		d, err := auctioneer.New(lagertest.NewTestLogger(name), cfg, auctioneer.Deps{BBS: bbs, Etcd: etcd})
		Expect(err).NotTo(HaveOccurred())
		p := ifrit.Background(d)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive())
		})
		return d, p
	}

	BeforeEach(func() {
		var runner *etcdrunner.Runner
		runner, endpoint = etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(runner.Stop)
		cluster = simulation.NewCluster(simulation.EvenCells(6, 3, capacity), true)
		DeferCleanup(cluster.Close)
		bbs = simulation.NewBBS(cluster)
		observer = newEtcdClient()
		api = &auctioneerapi.Client{
			HTTP: &http.Client{Timeout: time.Second},
			Locate: func(ctx context.Context) (string, error) {
				return lock.Holder(ctx, observer, auctioneer.DefaultLockName)
			},
		}
	})

	placed := func(guid string) func() int {
		return func() int {
			n := 0
			for _, c := range cluster.Cells {
				for _, l := range c.LRPs() {
					if l.ProcessGuid == guid {
						n++
					}
				}
			}
			return n
		}
	}

	It("serves auctions once it holds the lock, with /ping and /metrics on the debug address", func() {
		d, p := startDaemon("solo", newEtcdClient())
		Eventually(p.Ready(), 10*time.Second).Should(BeClosed())
		Expect(api.RequestLRPAuctions(context.Background(), []*models.LRPStartRequest{startRequest("app", 128, 0, 1, 2)})).To(Succeed())
		Eventually(placed("app"), 5*time.Second).Should(Equal(3))

		resp, err := http.Get("http://" + d.DebugAddress + "/ping")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Eventually(func() string {
			resp, err := http.Get("http://" + d.DebugAddress + "/metrics")
			if err != nil {
				return ""
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return string(body)
		}, 5*time.Second).Should(ContainSubstring("diego_auctioneer_lrps_placed_total 3"))
	})

	It("fails over to the standby within the lock TTL when the active one dies", func() {
		activeEtcd := newEtcdClient()
		active, activeProcess := startDaemon("active", activeEtcd)
		Eventually(activeProcess.Ready(), 10*time.Second).Should(BeClosed())
		standby, standbyProcess := startDaemon("standby", newEtcdClient())
		Expect(lock.Holder(context.Background(), observer, auctioneer.DefaultLockName)).To(Equal(active.URL))

		// The standby listens but refuses auctions.
		resp, err := http.Post(standby.URL+auctioneerapi.LRPAuctionsPath, "application/json", nil)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable))
		Consistently(standbyProcess.Ready(), 500*time.Millisecond).ShouldNot(BeClosed())

		Expect(api.RequestLRPAuctions(context.Background(), []*models.LRPStartRequest{startRequest("before", 128, 0)})).To(Succeed())
		Eventually(placed("before"), 5*time.Second).Should(Equal(1))

		// Kill the active one: its keepalives stop without a resign, as when
		// the process dies, and it stops serving.
		killed := time.Now()
		Expect(activeEtcd.Close()).To(Succeed())
		Eventually(activeProcess.Wait(), 5*time.Second).Should(Receive(HaveOccurred()))

		Eventually(func() error {
			return api.RequestLRPAuctions(context.Background(), []*models.LRPStartRequest{startRequest("after", 128, 0)})
		}, lockTTL+2*time.Second, 50*time.Millisecond).Should(Succeed())
		Eventually(placed("after"), 2*time.Second).Should(Equal(1))
		Expect(time.Since(killed)).To(BeNumerically("<", lockTTL+time.Second))
		Expect(lock.Holder(context.Background(), observer, auctioneer.DefaultLockName)).To(Equal(standby.URL))
	})
})
