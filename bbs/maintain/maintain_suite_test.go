package maintain_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/bbs/maintain"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor"
)

func TestMaintain(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "BBS Maintain Suite")
}

// world is one BBS over its own etcd, as cmd/bbs wires it: the API over
// HTTP, the maintenance runner under the maintenance lock, and /metrics.
type world struct {
	etcd       *etcdrunner.Runner
	etcdClient *clientv3.Client
	bbs        *client.Client
	metricsURL string
	// receptorURL is a receptor (the public API) over this BBS.
	receptorURL string
	logger      lager.Logger
}

type worldOptions struct {
	quota         int64
	interval      time.Duration
	keepRevisions int64
	// lockless starts the maintenance runner without the lock (as a BBS that
	// could not take it).
	lockless bool
	// beforeBBS runs against etcd before the BBS starts.
	beforeBBS func(c *clientv3.Client)
}

func startWorld(o worldOptions) *world {
	w := &world{logger: lagertest.NewTestLogger("maintain")}
	w.etcd, _ = etcdrunner.StartForTestWith(etcdrunner.Config{DataDir: GinkgoT().TempDir(), QuotaBackendBytes: o.quota})
	DeferCleanup(w.etcd.Stop)
	var err error
	w.etcdClient, err = w.etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.etcdClient.Close)
	Expect(etcdrunner.WaitReady(w.etcdClient, 10*time.Second)).To(Succeed())
	if o.beforeBBS != nil {
		o.beforeBBS(w.etcdClient)
	}

	db, err := bbs.New(bbs.Options{Client: w.etcdClient, Logger: w.logger, RequestTimeout: 5 * time.Second})
	Expect(err).NotTo(HaveOccurred())
	registry := prometheus.NewRegistry()
	api, err := transport.NewServer(transport.TLS{}, "127.0.0.1:0", server.New(w.logger, db, server.Options{RequestTimeout: 10 * time.Second}))
	Expect(err).NotTo(HaveOccurred())
	api.ShutdownTimeout = time.Second
	metrics := httptest.NewServer(debugserver.Handler(registry))
	DeferCleanup(metrics.Close)
	w.metricsURL = metrics.URL + "/metrics"

	m, err := maintain.New(maintain.Options{Client: w.etcdClient, KeepRevisions: o.keepRevisions, Registerer: registry})
	Expect(err).NotTo(HaveOccurred())
	runner := &maintain.Runner{Maintainer: m, Logger: w.logger, Clock: clock.NewClock(), Interval: o.interval}
	members := []ifrit.Runner{api, runner}
	if !o.lockless {
		members = append(members, &lock.Standby{
			Lock:   lock.Runner{Logger: w.logger, Client: w.etcdClient, Name: maintain.LockName, Value: "bbs-under-test", TTL: 5 * time.Second},
			Active: runner.Tenure(),
		})
	}
	for _, r := range members {
		p := ifrit.Invoke(r)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive())
		})
	}
	w.bbs = client.NewClient(&http.Client{Timeout: 15 * time.Second}, "http://"+api.Addr())
	public := httptest.NewServer(receptor.NewHandler(w.logger, w.bbs, receptor.Options{}))
	DeferCleanup(public.Close)
	w.receptorURL = public.URL
	return w
}

// publicHealth reads the receptor's GET /v1/health.
func (w *world) publicHealth() models.StoreHealth {
	resp, err := http.Get(w.receptorURL + "/v1/health")
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	var body receptor.HealthResponse
	Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
	return body.Store
}

// desire creates an app with one instance and small routes (no auctioneer:
// the BBS logs and skips the auction).
func (w *world) desire(guid string) {
	Expect(w.bbs.DesireLRP(context.Background(), w.logger, &models.DesiredLRP{
		ProcessGuid: guid, Domain: "d", Instances: 1, RootFS: "docker:///library/busybox#1.36",
		Action:   &models.Action{Run: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", "sleep 1000"}}},
		MemoryMB: 64, DiskMB: 64, Ports: []uint32{8080},
	})).To(Succeed())
}

// metric reads one sample of the BBS's /metrics over HTTP, e.g.
// `diego_bbs_etcd_alarm{alarm="NOSPACE"}`; -1 when absent.
func (w *world) metric(series string) float64 {
	resp, err := http.Get(w.metricsURL)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	Expect(err).NotTo(HaveOccurred())
	return v
}

func (w *world) health() *models.StoreHealth {
	h, err := w.bbs.StoreHealth(context.Background())
	Expect(err).NotTo(HaveOccurred())
	return h
}
