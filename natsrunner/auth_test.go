package natsrunner_test

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"code.cloudfoundry.org/lager/v3/lagertest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	ginkgomon "github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/natsclient"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/natsrunner"
)

var _ = Describe("A server with TLS and a user per role", func() {
	var (
		url           string
		dir, otherDir string
	)
	emitter, router, receptor := certs.Of(certs.RoleRouteEmitter), certs.Of(certs.RoleRouter), certs.Of(certs.RoleReceptor)
	rep, bbs := certs.Rep("cell-1"), certs.Of(certs.RoleBBS)

	tlsIn := func(dir string, id certs.Identity) transport.TLS {
		f := certs.FilesIn(dir, id)
		return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
	}
	// dial connects with t's client TLS (none when t is empty) and returns
	// the connection and the asynchronous errors it gets (permission violations).
	dial := func(t transport.TLS) (*nats.Conn, chan error, error) {
		errs := make(chan error, 16)
		opts := []nats.Option{nats.Timeout(3 * time.Second), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		})}
		cfg, err := t.ClientConfig()
		Expect(err).NotTo(HaveOccurred())
		if cfg != nil {
			opts = append(opts, nats.Secure(cfg))
		}
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			DeferCleanup(nc.Close)
		}
		return nc, errs, err
	}
	as := func(id certs.Identity) (*nats.Conn, chan error) {
		nc, errs, err := dial(tlsIn(dir, id))
		Expect(err).NotTo(HaveOccurred(), id.String())
		return nc, errs
	}

	BeforeEach(func() {
		ids := []certs.Identity{certs.Of(certs.RoleNATS), emitter, router, receptor, rep, bbs}
		dir = filepath.Join(GinkgoT().TempDir(), "certs")
		otherDir = filepath.Join(GinkgoT().TempDir(), "other")
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		_, err = certs.WriteSet(otherDir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		cfg := natsrunner.Config{Port: 0, StorageDir: GinkgoT().TempDir(),
			TLS: tlsIn(dir, certs.Of(certs.RoleNATS)), Users: natsrunner.RoleUsers([]string{"cell-1"})}
		Expect(cfg.Validate()).To(Succeed())
		runner := natsrunner.New(lager.NewLogger("nats-tls-test"), cfg)
		p, err := natsrunner.Start(runner)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { ginkgomon.Interrupt(p, 10*time.Second) })
		url = runner.ClientURL()
	})

	It("carries routes from the route emitter to the router, and log lines from a rep to the receptor's stream", func() {
		// The router as it runs: one subscription to router.*, answering greets.
		rc, _ := as(router)
		routes := make(chan string, 8)
		_, err := rc.Subscribe("router.*", func(m *nats.Msg) {
			if m.Subject == "router.greet" {
				_ = m.Respond([]byte(`{"minimumRegisterIntervalInSeconds":20}`))
				return
			}
			routes <- m.Subject
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(rc.Flush()).To(Succeed())
		ec, _ := as(emitter)
		Expect(ec.Publish("router.register", []byte(`{"uris":["web.example"]}`))).To(Succeed())
		Eventually(routes, 3*time.Second).Should(Receive(Equal("router.register")))

		// The emitter greets routers and hears their answer.
		reply, err := ec.Request("router.greet", nil, 3*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(reply.Data)).To(ContainSubstring("minimumRegisterIntervalInSeconds"))

		pc, _ := as(rep)
		Expect(pc.Publish("logs.app-1", []byte("hello"))).To(Succeed())
		Expect(pc.Flush()).To(Succeed())
		recv, _ := as(receptor)
		js, err := jetstream.New(recv)
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := js.Stream(ctx, natsrunner.LogsStream)
		Expect(err).NotTo(HaveOccurred())
		// The stream stores a plain publish a moment after the publisher's flush.
		Eventually(func(g Gomega) {
			info, err := stream.Info(ctx, jetstream.WithSubjectFilter("logs.app-1"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(info.State.Subjects).To(HaveKeyWithValue("logs.app-1", uint64(1)))
		}, 4*time.Second, 50*time.Millisecond).Should(Succeed())
		consumer, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{"logs.app-1"}, DeliverPolicy: jetstream.DeliverAllPolicy})
		Expect(err).NotTo(HaveOccurred())
		iter, err := consumer.Messages()
		Expect(err).NotTo(HaveOccurred())
		defer iter.Stop()
		line, err := iter.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(line.Data())).To(Equal("hello"))
	})

	It("refuses a client without a certificate", func() {
		_, _, err := dial(transport.TLS{})
		Expect(err).To(HaveOccurred())
		caOnly, err := tlsIn(dir, rep).ClientConfig()
		Expect(err).NotTo(HaveOccurred())
		_, err = nats.Connect(url, nats.Secure(&tls.Config{RootCAs: caOnly.RootCAs, MinVersion: tls.VersionTLS12}), nats.Timeout(3*time.Second))
		Expect(err).To(HaveOccurred())
	})

	It("refuses a client whose certificate comes from another CA", func() {
		t := tlsIn(otherDir, rep)
		t.CACertFile = filepath.Join(dir, certs.CACertFile)
		_, _, err := dial(t)
		Expect(err).To(HaveOccurred())
	})

	It("lets a rep and the receptor check the LOGS stream at start, each through the inboxes it may read", func() {
		for _, c := range []struct {
			id     certs.Identity
			prefix string
		}{{rep, natsclient.RepInboxPrefix("cell-1")}, {receptor, ""}} {
			logger := lagertest.NewTestLogger("check")
			nc, err := natsclient.Connect(logger, natsclient.Options{Name: c.id.String(), URLs: []string{url},
				TLS: tlsIn(dir, c.id), InboxPrefix: c.prefix})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(nc.Close)
			js, err := jetstream.New(nc)
			Expect(err).NotTo(HaveOccurred())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			Expect(natsclient.EnsureLogStream(ctx, logger, js, natsclient.DefaultLogStreamConfig())).To(Succeed(), c.id.String())
			Expect(logger.Buffer()).To(gbytes.Say("log-stream.found"))
		}
	})

	It("refuses a valid certificate of a role that has no business on NATS", func() {
		_, _, err := dial(tlsIn(dir, bbs))
		Expect(err).To(MatchError(nats.ErrAuthorization))
	})

	DescribeTable("refuses what a role may not do",
		func(id certs.Identity, attack func(nc *nats.Conn) error) {
			rc, _ := as(router)
			routes, err := rc.SubscribeSync("router.*")
			Expect(err).NotTo(HaveOccurred())
			Expect(rc.Flush()).To(Succeed())
			recv, _ := as(receptor)
			logs, err := recv.SubscribeSync("logs.>")
			Expect(err).NotTo(HaveOccurred())
			Expect(recv.Flush()).To(Succeed())

			nc, errs := as(id)
			Expect(attack(nc)).To(Succeed())
			_ = nc.Flush()
			var violation error
			Eventually(errs, 3*time.Second).Should(Receive(&violation))
			Expect(violation.Error()).To(ContainSubstring("Permissions Violation"))
			// And nothing got through.
			_, err = routes.NextMsg(300 * time.Millisecond)
			Expect(err).To(MatchError(nats.ErrTimeout))
			_, err = logs.NextMsg(100 * time.Millisecond)
			Expect(err).To(MatchError(nats.ErrTimeout))
		},
		Entry("a rep publishing router.register for another app's hostname", rep, func(nc *nats.Conn) error {
			return nc.Publish("router.register", []byte(`{"uris":["bank.example"],"host":"10.0.0.66","port":8080}`))
		}),
		Entry("a rep reading every app's logs", rep, func(nc *nats.Conn) error {
			_, err := nc.SubscribeSync("logs.>")
			return err
		}),
		Entry("a rep deleting the LOGS stream", rep, func(nc *nats.Conn) error {
			return nc.Publish("$JS.API.STREAM.DELETE.LOGS", nil)
		}),
		Entry("a rep reading the replies other clients get (the receptor's log reads among them)", rep, func(nc *nats.Conn) error {
			_, err := nc.SubscribeSync("_INBOX.>")
			return err
		}),
		Entry("a rep reading another cell's rep's replies", rep, func(nc *nats.Conn) error {
			_, err := nc.SubscribeSync(natsclient.RepInboxPrefix("cell-2") + ".>")
			return err
		}),
		Entry("the router publishing a route", router, func(nc *nats.Conn) error {
			return nc.Publish("router.register", []byte(`{"uris":["bank.example"]}`))
		}),
		Entry("the route emitter forging a log line", emitter, func(nc *nats.Conn) error {
			return nc.Publish("logs.app-1", []byte("forged"))
		}),
		Entry("the receptor publishing a route", receptor, func(nc *nats.Conn) error {
			return nc.Publish("router.unregister", []byte(`{"uris":["bank.example"]}`))
		}),
		Entry("the receptor deleting the LOGS stream", receptor, func(nc *nats.Conn) error {
			return nc.Publish("$JS.API.STREAM.DELETE.LOGS", nil)
		}),
	)
})
