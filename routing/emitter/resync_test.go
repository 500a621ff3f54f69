package emitter_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs"
	bbsclient "github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/routing/emitter"
	"github.com/diego-runtime/diego/routing/messages"
)

// fixture is a real etcd (that a spec may stop and start), a BBS over it and
// a real NATS whose registry messages are recorded.
type fixture struct {
	logger  lager.Logger
	etcd    *etcdrunner.Runner
	etcdc   *clientv3.Client
	db      *bbs.DB
	natsURL string
	conn    *nats.Conn
	seen    *published
}

func newFixture() *fixture {
	f := &fixture{logger: lager.NewLogger("emitter-test")}
	f.logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))
	var err error
	f.etcd, err = etcdrunner.New(etcdrunner.Config{DataDir: filepath.Join(GinkgoT().TempDir(), "etcd"), UnsafeNoFsync: true})
	Expect(err).NotTo(HaveOccurred())
	Expect(f.etcd.Start()).To(Succeed())
	DeferCleanup(f.etcd.Stop)
	f.etcdc, err = f.etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(f.etcdc.Close)
	f.db, err = bbs.New(bbs.Options{Client: f.etcdc, Logger: f.logger})
	Expect(err).NotTo(HaveOccurred())

	runner, natsProcess, err := natsrunner.StartForTest(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { natsProcess.Signal(os.Interrupt); <-natsProcess.Wait() })
	f.natsURL = runner.ClientURL()
	f.conn, err = nats.Connect(f.natsURL)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(f.conn.Close)
	f.seen = &published{}
	for _, subject := range []string{messages.SubjectRegister, messages.SubjectUnregister} {
		sub, err := f.conn.Subscribe(subject, func(m *nats.Msg) { f.seen.add(m.Subject, m.Data) })
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
	}
	Expect(f.conn.Flush()).To(Succeed())
	return f
}

// desire and run write an app with one route and a running instance of it
// at 10.0.0.1:hostPort.
func (f *fixture) desire(guid string, instances int) {
	routes, _ := json.Marshal([]models.CFRoute{{Hostnames: []string{guid + ".localhost"}, Port: 8080}})
	Expect(f.db.DesireLRP(context.Background(), f.logger, &models.DesiredLRP{
		ProcessGuid: guid, Domain: "d", Instances: instances, RootFS: "docker:///app#1",
		Action: &models.Action{Run: &models.RunAction{Path: "/app"}}, Ports: []uint32{8080},
		Routes: models.Routes{models.CFRouterKey: routes},
	})).To(Succeed())
}

func (f *fixture) run(guid string, index int, hostPort uint32) {
	ctx := context.Background()
	key := models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"}
	instance := models.ActualLRPInstanceKey{InstanceGuid: guid + "-i" + itoa(index), CellID: "cell-1"}
	Expect(f.db.ClaimActualLRP(ctx, f.logger, key, instance)).To(Succeed())
	Expect(f.db.StartActualLRP(ctx, f.logger, key, instance, models.ActualLRPNetInfo{
		Address: "10.0.0.1", InstanceAddress: "10.254.0.2",
		Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: hostPort}},
	}, true)).To(Succeed())
}

// startRunner invokes r and stops it when the spec ends.
func startRunner(r ifrit.Runner) ifrit.Process {
	process := ifrit.Invoke(r)
	DeferCleanup(func() {
		process.Signal(os.Interrupt)
		Eventually(process.Wait(), 10*time.Second).Should(Receive())
	})
	return process
}

// interruptedBBS is the real BBS with a switch at the process boundary: the
// spec can cut the event stream and hold back the emitter's resubscription,
// as a BBS restart would.
type interruptedBBS struct {
	*bbs.DB
	mu      sync.Mutex
	current bbsclient.EventSource
	held    chan struct{} // non-nil: resumes (afterID > 0) wait until closed
	afters  []int64       // every afterID asked for
}

func (b *interruptedBBS) SubscribeToEvents(ctx context.Context, logger lager.Logger, afterID int64) (bbsclient.EventSource, error) {
	b.mu.Lock()
	b.afters = append(b.afters, afterID)
	held := b.held
	b.mu.Unlock()
	if held != nil && afterID > 0 {
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	source, err := b.DB.SubscribeToEvents(ctx, logger, afterID)
	if err == nil {
		b.mu.Lock()
		b.current = source
		b.mu.Unlock()
	}
	return source, err
}

// cut ends the current stream and holds the next resume until release.
func (b *interruptedBBS) cut() (release func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	held := make(chan struct{})
	b.held = held
	b.current.Close()
	return func() { close(held) }
}

func (b *interruptedBBS) subscriptions() []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int64(nil), b.afters...)
}

var _ = Describe("The emitter when its resume point was compacted away", func() {
	It("syncs from a fresh snapshot and follows the stream from now, instead of retrying the same id", func() {
		f := newFixture()
		source := &interruptedBBS{DB: f.db}
		cfg := emitter.DefaultConfig()
		cfg.GreetTimeout = 100 * time.Millisecond
		cfg.SyncInterval = time.Hour // only a resync can catch up
		startRunner(&emitter.Emitter{Logger: f.logger, BBS: source, NATS: f.conn, Clock: clock.NewClock(), Config: cfg})
		f.desire("web", 1)
		f.run("web", 0, 61000)
		Eventually(f.seen.all).Should(ConsistOf("register web.localhost 10.0.0.1:61000"))

		release := source.cut()
		f.desire("missed", 1) // while the emitter is not subscribed
		f.run("missed", 0, 61100)
		resp, err := f.etcdc.Get(context.Background(), "/")
		Expect(err).NotTo(HaveOccurred())
		_, err = f.etcdc.Compact(context.Background(), resp.Header.Revision, clientv3.WithCompactPhysical())
		Expect(err).NotTo(HaveOccurred())
		// The emitter resubscribes after the last id it saw, now compacted.
		Eventually(func() int { return len(source.subscriptions()) }, 5*time.Second).Should(Equal(2))
		release()

		Eventually(f.seen.all, 5*time.Second).Should(ContainElement("register missed.localhost 10.0.0.1:61100"))
		Expect(source.subscriptions()).To(HaveLen(3))
		Expect(source.subscriptions()[2]).To(BeZero())

		By("following the new stream")
		f.desire("later", 1)
		f.run("later", 0, 61200)
		Eventually(f.seen.all).Should(ContainElement("register later.localhost 10.0.0.1:61200"))
	})
})
