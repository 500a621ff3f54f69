package converger_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/models"
)

// The suite shares one embedded etcd; each spec wipes /diego/ before it runs.
var (
	etcdRunner   *etcdrunner.Runner
	etcdEndpoint string
	etcdClient   *clientv3.Client
)

var _ = BeforeSuite(func() {
	runner, endpoint := etcdrunner.StartForTest(GinkgoT().TempDir())
	DeferCleanup(runner.Stop)
	etcdRunner = runner
	etcdEndpoint = endpoint
	var err error
	etcdClient, err = newEtcdClient()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(etcdClient.Close)
})

func newEtcdClient() (*clientv3.Client, error) {
	c, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{etcdEndpoint}})
	if err != nil {
		return nil, err
	}
	return c, etcdrunner.WaitReady(c, 10*time.Second)
}

// fakeAuctioneer stands in for the auctioneer process: it records what it is asked
// to place and answers 202.
type fakeAuctioneer struct {
	server *httptest.Server
	mu     sync.Mutex
	lrps   []models.LRPStartRequest
	tasks  []models.TaskStartRequest
}

func newFakeAuctioneer() *fakeAuctioneer {
	a := &fakeAuctioneer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+auctioneerapi.LRPAuctionsPath, func(w http.ResponseWriter, r *http.Request) {
		var reqs []models.LRPStartRequest
		if err := json.NewDecoder(r.Body).Decode(&reqs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.lrps = append(a.lrps, reqs...)
		a.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST "+auctioneerapi.TaskAuctionsPath, func(w http.ResponseWriter, r *http.Request) {
		var reqs []models.TaskStartRequest
		if err := json.NewDecoder(r.Body).Decode(&reqs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.tasks = append(a.tasks, reqs...)
		a.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	a.server = httptest.NewServer(mux)
	return a
}

func (a *fakeAuctioneer) client() *auctioneerapi.Client {
	return &auctioneerapi.Client{HTTP: http.DefaultClient,
		Locate: func(context.Context) (string, error) { return a.server.URL, nil }}
}

// lrpAuctions counts the auction requests for one index.
func (a *fakeAuctioneer) lrpAuctions(guid string, index int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.lrps {
		for _, i := range r.Indices {
			if r.ProcessGuid == guid && i == index {
				n++
			}
		}
	}
	return n
}

func (a *fakeAuctioneer) taskAuctions(guid string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.tasks {
		if r.TaskGuid == guid {
			n++
		}
	}
	return n
}

// fakeReps stands in for the cells' reps: it records the instances the BBS asks
// to stop.
type fakeReps struct {
	mu      sync.Mutex
	stopped []models.ActualLRPKey
}

func (f *fakeReps) RepClient(*models.CellPresence) (bbs.RepClient, error) { return f, nil }

func (f *fakeReps) StopLRPInstance(_ context.Context, key models.ActualLRPKey, _ models.ActualLRPInstanceKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, key)
	return nil
}

func (f *fakeReps) CancelTask(context.Context, string) error { return nil }

func (f *fakeReps) stops() []models.ActualLRPKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]models.ActualLRPKey{}, f.stopped...)
}

// world is one spec's BBS (the real bbs.DB over the suite's etcd) and neighbours.
type world struct {
	ctx        context.Context
	logger     *lagertest.TestLogger
	db         *bbs.DB
	auctioneer *fakeAuctioneer
	reps       *fakeReps
	metrics    *prometheus.Registry
}

func newWorld() *world {
	ctx := context.Background()
	_, err := etcdClient.Delete(ctx, "/diego/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	w := &world{ctx: ctx, logger: lagertest.NewTestLogger("test"), auctioneer: newFakeAuctioneer(), reps: &fakeReps{},
		metrics: prometheus.NewRegistry()}
	DeferCleanup(w.auctioneer.server.Close)
	w.db = w.newDB(etcdClient)
	return w
}

func (w *world) newDB(c *clientv3.Client) *bbs.DB {
	db, err := bbs.New(bbs.Options{Client: c, Logger: w.logger.Session("bbs"), Clock: clock.NewClock(),
		Auctioneer: w.auctioneer.client(), RepClients: w.reps})
	Expect(err).NotTo(HaveOccurred())
	return db
}

// start runs a converger over the world's DB until the spec ends.
func (w *world) start(cfg converger.Config) *converger.Converger {
	return w.startOn(w.db, cfg)
}

// startOverHTTP runs a converger that reaches the DB through the real BBS HTTP
// server and client, as cmd/converger does.
func (w *world) startOverHTTP(cfg converger.Config) *converger.Converger {
	srv := httptest.NewServer(server.New(w.logger.Session("bbs-server"), w.db, server.Options{}))
	DeferCleanup(srv.Close)
	return w.startOn(client.NewClient(nil, srv.URL), cfg)
}

func (w *world) startOn(bbsAPI converger.BBS, cfg converger.Config) *converger.Converger {
	c := converger.New(converger.Options{Logger: w.logger, Clock: clock.NewClock(), BBS: bbsAPI, Config: cfg,
		Metrics: converger.NewMetrics(w.metrics)})
	members := grouper.Members{{Name: "converger", Runner: c}}
	watch := &converger.CellWatch{Logger: w.logger, Clock: clock.NewClock(), Client: etcdClient, OnGone: func(string) { c.Trigger() }}
	members = append(grouper.Members{{Name: "cell-watch", Runner: watch}}, members...)
	process := ifrit.Invoke(grouper.NewOrdered(os.Interrupt, members))
	DeferCleanup(func() {
		process.Signal(os.Interrupt)
		Eventually(process.Wait(), 10*time.Second).Should(Receive())
	})
	return c
}

func (w *world) desire(guid, domain string, instances int, policy *models.RestartPolicy) {
	lrp := &models.DesiredLRP{
		ProcessGuid: guid, Domain: domain, Instances: instances, RootFS: "docker:///library/busybox",
		Action:   &models.Action{Run: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", "sleep 1000"}}},
		MemoryMB: 16, DiskMB: 16,
		RestartPolicy: policy,
	}
	Expect(w.db.DesireLRP(w.ctx, w.logger, lrp)).To(Succeed())
}

func (w *world) register(cellID string, ttlSeconds int) int64 {
	lease, err := w.db.RegisterCell(w.ctx, w.logger, models.CellPresence{
		CellID: cellID, RepAddress: "http://127.0.0.1:1", Zone: "z1",
		Capacity:        models.CellCapacity{MemoryMB: 1024, DiskMB: 1024, Containers: 10},
		RootFSProviders: models.RootFSProviders{"docker": {}},
	}, ttlSeconds)
	Expect(err).NotTo(HaveOccurred())
	return lease
}

func (w *world) run(guid string, index int, cellID string) {
	key := models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: freshDomain}
	instance := instanceOf(guid, index, cellID)
	Expect(w.db.ClaimActualLRP(w.ctx, w.logger, key, instance)).To(Succeed())
	Expect(w.db.StartActualLRP(w.ctx, w.logger, key, instance,
		models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}, true)).To(Succeed())
}

// records lists the records of one index as "PRESENCE STATE cell".
func (w *world) records(guid string, index int) []string {
	lrps, err := w.db.ActualLRPs(w.ctx, w.logger, models.ActualLRPFilter{ProcessGuid: guid, Index: &index})
	Expect(err).NotTo(HaveOccurred())
	out := []string{}
	for _, a := range lrps {
		out = append(out, a.Presence+" "+a.State+" "+a.CellID)
	}
	return out
}

// recordsFn is records as a function for Eventually.
func (w *world) recordsFn(guid string, index int) func() []string {
	return func() []string { return w.records(guid, index) }
}

// putActual writes an actual LRP record straight into etcd, as an old converger or
// a lost update would have left it (DESIGN's layout, docs/bbs.md).
func putActual(a *models.ActualLRP) { putRecord(a, "ordinary") }

// putRecord writes a record into a slot: ordinary, suspect or evacuating.
func putRecord(a *models.ActualLRP, slot string) {
	data, err := json.Marshal(a)
	Expect(err).NotTo(HaveOccurred())
	_, err = etcdClient.Put(context.Background(),
		"/diego/v1/actual/"+a.ProcessGuid+"/"+strconv.Itoa(a.Index)+"/"+slot, string(data))
	Expect(err).NotTo(HaveOccurred())
}

func deleteActual(guid string, index int) {
	_, err := etcdClient.Delete(context.Background(), "/diego/v1/actual/"+guid+"/"+strconv.Itoa(index)+"/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
}

// metric reads one sample of the world's converger metrics (-1 if absent).
func (w *world) metric(name, action string) float64 {
	families, err := w.metrics.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			matches := action == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == action {
					matches = true
				}
			}
			if !matches {
				continue
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
	return -1
}

// passLogs returns the data of every pass log line so far.
func (w *world) passLogs() []lager.Data {
	var out []lager.Data
	for _, l := range w.logger.Logs() {
		if l.Message == "test.converger.pass.converged" {
			out = append(out, l.Data)
		}
	}
	return out
}
