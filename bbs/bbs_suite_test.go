package bbs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"code.cloudfoundry.org/clock/fakeclock"
	"code.cloudfoundry.org/lager/v3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/encryption"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/models"
)

func TestBBS(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "BBS Suite")
}

var (
	etcd       *etcdrunner.Runner
	etcdDir    string // etcd's data: the encryption specs read its database file
	etcdClient *clientv3.Client
	db         *bbs.DB
	clock      *fakeclock.FakeClock
	auctioneer *fakeAuctioneer
	logger     lager.Logger
	ctx        context.Context
	// keys seal the suite's records, as the bbs daemon always does.
	keys *encryption.Keyring
)

// forgetDesired deletes a desired LRP's keys and nothing else, leaving its
// actual LRPs behind: the state the converger retires ("records with no
// desired LRP"), which the BBS's own RemoveDesiredLRP never leaves.
func forgetDesired(guid string) {
	_, err := etcdClient.Delete(ctx, "/diego/v1/desired/schedule/"+guid)
	Expect(err).NotTo(HaveOccurred())
	_, err = etcdClient.Delete(ctx, "/diego/v1/desired/run/"+guid)
	Expect(err).NotTo(HaveOccurred())
}

var _ = BeforeSuite(func() {
	etcdDir = GinkgoT().TempDir()
	etcd, _ = etcdrunner.StartForTest(etcdDir)
	DeferCleanup(etcd.Stop)
	var err error
	etcdClient, err = etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(etcdClient.Close)
	keys, err = encryption.New(map[string]string{"suite": "a passphrase for the suite"}, "suite")
	Expect(err).NotTo(HaveOccurred())
})

var _ = BeforeEach(func() {
	ctx = context.Background()
	_, err := etcdClient.Delete(ctx, "/diego/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	logger = lager.NewLogger("test")
	clock = fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	auctioneer = newFakeAuctioneer()
	DeferCleanup(auctioneer.server.Close)
	db, err = bbs.New(bbs.Options{
		Client:     etcdClient,
		Logger:     logger,
		Clock:      clock,
		Auctioneer: &auctioneerapi.Client{HTTP: http.DefaultClient, Locate: func(context.Context) (string, error) { return auctioneer.server.URL, nil }},
		RepClients: bbs.HTTPRepClients{HTTP: http.DefaultClient},
		Keys:       keys,
	})
	Expect(err).NotTo(HaveOccurred())
})

// fakeAuctioneer records the start requests the BBS sends.
type fakeAuctioneer struct {
	server *httptest.Server
	mu     sync.Mutex
	lrps   []models.LRPStartRequest
	tasks  []models.TaskStartRequest
}

func newFakeAuctioneer() *fakeAuctioneer {
	a := &fakeAuctioneer{}
	a.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		switch r.URL.Path {
		case auctioneerapi.LRPAuctionsPath:
			var reqs []models.LRPStartRequest
			Expect(json.NewDecoder(r.Body).Decode(&reqs)).To(Succeed())
			a.lrps = append(a.lrps, reqs...)
		case auctioneerapi.TaskAuctionsPath:
			var reqs []models.TaskStartRequest
			Expect(json.NewDecoder(r.Body).Decode(&reqs)).To(Succeed())
			a.tasks = append(a.tasks, reqs...)
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	return a
}

// lrpIndices lists every index auctioned for a process, in request order.
func (a *fakeAuctioneer) lrpIndices(guid string) []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []int{}
	for _, r := range a.lrps {
		if r.ProcessGuid == guid {
			out = append(out, r.Indices...)
		}
	}
	return out
}

func (a *fakeAuctioneer) taskGuids() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []string{}
	for _, r := range a.tasks {
		out = append(out, r.TaskGuid)
	}
	return out
}

// fakeRep is a cell's rep that records the stop and cancel calls it gets.
type fakeRep struct {
	server *httptest.Server
	mu     sync.Mutex
	calls  []string
}

func newFakeRep() *fakeRep {
	r := &fakeRep{}
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.calls = append(r.calls, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	DeferCleanup(r.server.Close)
	return r
}

func (r *fakeRep) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.calls...)
}

// registerCell makes a present cell whose rep is rep.
func registerCell(cellID string, rep *fakeRep) int64 {
	lease, err := db.RegisterCell(ctx, logger, models.CellPresence{
		CellID: cellID, RepAddress: strings.TrimPrefix(rep.server.URL, "http://"), Zone: "z1",
		Capacity: models.CellCapacity{MemoryMB: 1024, DiskMB: 1024, Containers: 10},
	}, 30)
	Expect(err).NotTo(HaveOccurred())
	return lease
}

func newDesiredLRP(guid string, instances int) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: "d", Instances: instances, RootFS: "docker:///busybox#latest",
		Action:   &models.Action{Run: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", "sleep 1000"}}},
		MemoryMB: 64, DiskMB: 64, Ports: []uint32{8080},
		Routes: models.Routes{models.CFRouterKey: json.RawMessage(`[{"hostnames":["a.example.com"],"port":8080}]`)},
	}
}

func lrpKey(guid string, index int) models.ActualLRPKey {
	return models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"}
}

func instanceKey(guid, cell string) models.ActualLRPInstanceKey {
	return models.ActualLRPInstanceKey{InstanceGuid: guid, CellID: cell}
}

// actualsOf lists a process's records as "index/presence/state" strings.
func actualsOf(guid string) []string {
	lrps, err := db.ActualLRPs(ctx, logger, models.ActualLRPFilter{ProcessGuid: guid})
	Expect(err).NotTo(HaveOccurred())
	out := []string{}
	for _, l := range lrps {
		out = append(out, describe(l))
	}
	return out
}

func describe(l *models.ActualLRP) string {
	return strings.Join([]string{itoa(l.Index), l.Presence, l.State}, "/")
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// actualAt returns the record of an index in the given presence.
func actualAt(guid string, index int, presence string) *models.ActualLRP {
	i := index
	lrps, err := db.ActualLRPs(ctx, logger, models.ActualLRPFilter{ProcessGuid: guid, Index: &i})
	Expect(err).NotTo(HaveOccurred())
	for _, l := range lrps {
		if l.Presence == presence {
			return l
		}
	}
	return nil
}
