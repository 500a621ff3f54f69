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

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/routing/emitter"
	"github.com/diego-runtime/diego/routing/messages"
)

// published records what the emitter says on NATS.
type published struct {
	mu   sync.Mutex
	msgs []string
}

func (p *published) add(subject string, data []byte) {
	var m messages.RegistryMessage
	if json.Unmarshal(data, &m) != nil {
		return
	}
	verb := "register"
	if subject == messages.SubjectUnregister {
		verb = "unregister"
	}
	p.mu.Lock()
	p.msgs = append(p.msgs, verb+" "+m.URIs[0]+" "+m.Host+":"+itoa(int(m.Port)))
	p.mu.Unlock()
}

func (p *published) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

func (p *published) reset() {
	p.mu.Lock()
	p.msgs = nil
	p.mu.Unlock()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

var _ = Describe("The emitter against a real BBS and NATS", func() {
	var (
		logger  lager.Logger
		db      *bbs.DB
		conn    *nats.Conn
		seen    *published
		process ifrit.Process
		ctx     = context.Background()
	)

	BeforeEach(func() {
		logger = lager.NewLogger("emitter-test")
		logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))
		etcd, err := etcdrunner.New(etcdrunner.Config{DataDir: filepath.Join(GinkgoT().TempDir(), "etcd"), UnsafeNoFsync: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(etcd.Start()).To(Succeed())
		DeferCleanup(etcd.Stop)
		cli, err := etcd.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(cli.Close)
		db, err = bbs.New(bbs.Options{Client: cli, Logger: logger})
		Expect(err).NotTo(HaveOccurred())

		runner, natsProcess, err := natsrunner.StartForTest(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { natsProcess.Signal(os.Interrupt); <-natsProcess.Wait() })
		conn, err = nats.Connect(runner.ClientURL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(conn.Close)

		seen = &published{}
		for _, subject := range []string{messages.SubjectRegister, messages.SubjectUnregister} {
			sub, err := conn.Subscribe(subject, func(m *nats.Msg) { seen.add(m.Subject, m.Data) })
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(sub.Unsubscribe)
		}
		Expect(conn.Flush()).To(Succeed())
	})

	startEmitter := func(cfg emitter.Config) {
		process = ifrit.Invoke(&emitter.Emitter{Logger: logger, BBS: db, NATS: conn, Clock: clock.NewClock(), Config: cfg})
		DeferCleanup(func() { process.Signal(os.Interrupt); <-process.Wait() })
	}

	desire := func(guid string, instances int) {
		routes, _ := json.Marshal([]models.CFRoute{{Hostnames: []string{guid + ".localhost"}, Port: 8080}})
		Expect(db.DesireLRP(ctx, logger, &models.DesiredLRP{
			ProcessGuid: guid, Domain: "d", Instances: instances, RootFS: "docker:///app#1",
			Action: &models.Action{Run: &models.RunAction{Path: "/app"}}, Ports: []uint32{8080},
			Routes: models.Routes{models.CFRouterKey: routes},
		})).To(Succeed())
	}

	run := func(guid string, index int, hostPort uint32) models.ActualLRPInstanceKey {
		key := models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"}
		instance := models.ActualLRPInstanceKey{InstanceGuid: guid + "-i" + itoa(index), CellID: "cell-1"}
		Expect(db.ClaimActualLRP(ctx, logger, key, instance)).To(Succeed())
		Expect(db.StartActualLRP(ctx, logger, key, instance, models.ActualLRPNetInfo{
			Address: "10.0.0.1", InstanceAddress: "10.254.0.2",
			Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: hostPort}},
		}, true)).To(Succeed())
		return instance
	}

	It("registers instances as they run, and unregisters them on scale down and crash", func() {
		cfg := emitter.DefaultConfig()
		cfg.GreetTimeout = 100 * time.Millisecond
		startEmitter(cfg)
		desire("web", 3)
		run("web", 0, 61000)
		run("web", 1, 61001)
		crashing := run("web", 2, 61002)
		Eventually(seen.all).Should(ConsistOf(
			"register web.localhost 10.0.0.1:61000", "register web.localhost 10.0.0.1:61001", "register web.localhost 10.0.0.1:61002"))

		seen.reset()
		Expect(db.CrashActualLRP(ctx, logger, models.ActualLRPKey{ProcessGuid: "web", Index: 2, Domain: "d"}, crashing, "Exited with status 1")).To(Succeed())
		Eventually(seen.all).Should(ConsistOf("unregister web.localhost 10.0.0.1:61002"))

		seen.reset()
		one := 1
		Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &one})).To(Succeed())
		Eventually(seen.all).Should(ConsistOf("unregister web.localhost 10.0.0.1:61001"))
	})

	It("names the zone and isolation segment of an instance's cell, from a presence it learns of after it started", func() {
		cfg := emitter.DefaultConfig()
		cfg.GreetTimeout = 100 * time.Millisecond
		startEmitter(cfg)
		bodies := make(chan messages.RegistryMessage, 16)
		sub, err := conn.Subscribe(messages.SubjectRegister, func(m *nats.Msg) {
			var body messages.RegistryMessage
			if json.Unmarshal(m.Data, &body) == nil {
				bodies <- body
			}
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
		Expect(conn.Flush()).To(Succeed())

		_, err = db.RegisterCell(ctx, logger, models.CellPresence{CellID: "cell-1", RepAddress: "http://127.0.0.1:1800",
			Zone: "z3", IsolationSegment: "secure"}, 60)
		Expect(err).NotTo(HaveOccurred())
		desire("zoned", 1)
		instance := run("zoned", 0, 61700)
		var body messages.RegistryMessage
		Eventually(bodies).Should(Receive(&body))
		Expect(body.AvailabilityZone).To(Equal("z3"))
		Expect(body.IsolationSegment).To(Equal("secure"))
		Expect(body.PrivateInstanceID).To(Equal(instance.InstanceGuid))
		Expect(body.PrivateInstanceIndex).To(Equal("0"))
		Expect(body.EndpointUpdatedAtNs).To(BeNumerically(">", 0))
		Expect(body.Tags).To(HaveKeyWithValue("component", "route-emitter"))
	})

	It("keeps an evacuating instance registered beside its replacement until it goes", func() {
		// No router answers the greeting here: do not wait the default 1 s for one.
		cfg := emitter.DefaultConfig()
		cfg.GreetTimeout = 100 * time.Millisecond
		startEmitter(cfg)
		desire("mover", 1)
		old := run("mover", 0, 61000)
		Eventually(seen.all).Should(ConsistOf("register mover.localhost 10.0.0.1:61000"))

		seen.reset()
		key := models.ActualLRPKey{ProcessGuid: "mover", Index: 0, Domain: "d"}
		keep, err := db.EvacuateRunningActualLRP(ctx, logger, key, old, models.ActualLRPNetInfo{
			Address: "10.0.0.1", InstanceAddress: "10.254.0.2", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(keep).To(BeTrue())
		Consistently(seen.all, 500*time.Millisecond).Should(BeEmpty(), "the evacuating copy keeps the route")

		replacement := models.ActualLRPInstanceKey{InstanceGuid: "new", CellID: "cell-2"}
		Expect(db.ClaimActualLRP(ctx, logger, key, replacement)).To(Succeed())
		Expect(db.StartActualLRP(ctx, logger, key, replacement, models.ActualLRPNetInfo{
			Address: "10.0.0.2", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 62000}}}, true)).To(Succeed())
		Eventually(seen.all).Should(ContainElement("register mover.localhost 10.0.0.2:62000"))

		Expect(db.RemoveEvacuatingActualLRP(ctx, logger, key, old)).To(Succeed())
		Eventually(seen.all).Should(ContainElement("unregister mover.localhost 10.0.0.1:61000"))
	})

	It("answers router.start by publishing every registration, and takes the interval a router asks for in its greeting", func() {
		greeted := make(chan struct{}, 1)
		sub, err := conn.Subscribe(messages.SubjectGreet, func(m *nats.Msg) {
			data, _ := json.Marshal(messages.RouterStart{ID: "r1", MinimumRegisterIntervalInSeconds: 1, PruneThresholdInSeconds: 3})
			_ = m.Respond(data)
			greeted <- struct{}{}
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
		Expect(conn.Flush()).To(Succeed())

		desire("api", 1)
		run("api", 0, 61500)
		startEmitter(emitter.DefaultConfig())
		Eventually(greeted).Should(Receive())
		Eventually(seen.all).Should(ContainElement("register api.localhost 10.0.0.1:61500"))

		By("re-publishing on the greeted 1 s interval rather than the default 20 s")
		seen.reset()
		Eventually(seen.all, 3*time.Second).Should(ContainElement("register api.localhost 10.0.0.1:61500"))

		By("answering router.start at once")
		seen.reset()
		data, _ := json.Marshal(messages.RouterStart{ID: "r2", MinimumRegisterIntervalInSeconds: 20})
		Expect(conn.Publish(messages.SubjectStart, data)).To(Succeed())
		Eventually(seen.all, 500*time.Millisecond).Should(ContainElement("register api.localhost 10.0.0.1:61500"))
	})
})
