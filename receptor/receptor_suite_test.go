package receptor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
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
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor"
	"github.com/diego-runtime/diego/rep/repapi"
)

func TestReceptor(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Receptor Suite")
}

var (
	etcd       *etcdrunner.Runner
	etcdClient *clientv3.Client

	logger      *lagertest.TestLogger
	auctioneer  *recorder
	rep         *recorder
	bbsClient   *client.Client
	bbsProcess  ifrit.Process
	opts        receptor.Options
	receptorURL string
	handler     *receptor.Handler
	processes   []ifrit.Process
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

// recorder is a fake neighbour process (the auctioneer, a rep) that records
// every request and answers Status.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
	status   int
}

type recorded struct {
	Method, Path string
	Body         []byte
}

func newRecorder(status int) *recorder {
	r := &recorder{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, recorded{req.Method, req.URL.Path, body})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	return r
}

func (r *recorder) Requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

func (r *recorder) LRPStarts() []models.LRPStartRequest {
	var out []models.LRPStartRequest
	for _, req := range r.Requests() {
		if req.Path != auctioneerapi.LRPAuctionsPath {
			continue
		}
		var reqs []models.LRPStartRequest
		Expect(json.Unmarshal(req.Body, &reqs)).To(Succeed())
		out = append(out, reqs...)
	}
	return out
}

type repFactory struct{ url string }

func (f repFactory) RepClient(*models.CellPresence) (bbs.RepClient, error) {
	return repapi.NewClient(http.DefaultClient, f.url), nil
}

func invoke(r ifrit.Runner) ifrit.Process {
	p := ifrit.Invoke(r)
	processes = append(processes, p)
	return p
}

func startBBS() string {
	db, err := bbs.New(bbs.Options{
		Client: etcdClient,
		Logger: logger,
		Auctioneer: &auctioneerapi.Client{HTTP: http.DefaultClient, Locate: func(context.Context) (string, error) {
			return auctioneer.URL, nil
		}},
		RepClients:     repFactory{rep.URL},
		RequestTimeout: time.Second,
	})
	Expect(err).NotTo(HaveOccurred())
	srv, err := transport.NewServer(transport.TLS{}, "127.0.0.1:0", server.New(logger, db, server.Options{RequestTimeout: 2 * time.Second}))
	Expect(err).NotTo(HaveOccurred())
	srv.ShutdownTimeout = time.Second
	bbsProcess = invoke(srv)
	return "http://" + srv.Addr()
}

var _ = BeforeEach(func() {
	_, err := etcdClient.Delete(context.Background(), "/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	logger = lagertest.NewTestLogger("receptor-test")
	auctioneer = newRecorder(http.StatusAccepted)
	DeferCleanup(auctioneer.Close)
	rep = newRecorder(http.StatusOK)
	DeferCleanup(rep.Close)
	opts = receptor.Options{KeepaliveInterval: time.Second}
	processes = nil
	DeferCleanup(func() {
		for i := len(processes) - 1; i >= 0; i-- {
			processes[i].Signal(os.Interrupt)
			Eventually(processes[i].Wait(), 15*time.Second).Should(Receive())
		}
	})
})

// JustBeforeEach starts the BBS and the receptor once each Context has set opts.
var _ = JustBeforeEach(func() {
	bbsURL := startBBS()
	bbsClient = client.NewClient(&http.Client{Timeout: 5 * time.Second}, bbsURL)
	handler = receptor.NewHandler(logger, bbsClient, opts)
	srv, err := transport.NewServer(transport.TLS{}, "127.0.0.1:0", handler)
	Expect(err).NotTo(HaveOccurred())
	srv.ShutdownTimeout = time.Second
	invoke(srv)
	receptorURL = "http://" + srv.Addr()
})

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request to the receptor; headers alternate name, value. A POST,
// PUT or DELETE is sent with Content-Type: application/json, as every client
// of the API sends it, unless headers name another (an empty value removes it).
func do(method, path, body string, headers ...string) response {
	var reader io.Reader
	if body != "" {
		reader = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, receptorURL+path, reader)
	Expect(err).NotTo(HaveOccurred())
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		if http.CanonicalHeaderKey(headers[i]) == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return response{resp.StatusCode, resp.Header, data}
}

// expectError asserts a typed error body and returns its message.
func expectError(resp response, status int, name string) string {
	GinkgoHelper()
	Expect(resp.Status).To(Equal(status), string(resp.Body))
	var e struct{ Name, Message string }
	Expect(json.Unmarshal(resp.Body, &e)).To(Succeed(), string(resp.Body))
	Expect(e.Name).To(Equal(name), string(resp.Body))
	Expect(e.Message).NotTo(BeEmpty())
	return e.Message
}

func decode[T any](resp response) T {
	GinkgoHelper()
	var v T
	Expect(json.Unmarshal(resp.Body, &v)).To(Succeed(), string(resp.Body))
	return v
}

func ctx() context.Context { return context.Background() }

var _ lager.Logger = (*lagertest.TestLogger)(nil)
