package natsclient_test

import (
	"context"
	"errors"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3/lagertest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/internal/natsclient"
)

var _ = Describe("The log stream", func() {
	var (
		logger *lagertest.TestLogger
		js     jetstream.JetStream
		ctx    context.Context
		cfg    natsclient.LogStreamConfig
	)

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("test")
		s := startNATS()
		nc, err := nats.Connect(s.ClientURL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(nc.Close)
		js, err = jetstream.New(nc)
		Expect(err).NotTo(HaveOccurred())
		ctx = context.Background()
		cfg = natsclient.DefaultLogStreamConfig()
		cfg.MaxMsgsPerSubject, cfg.MaxAge = 50, time.Hour
	})

	It("is created with the configured limits where it is missing, and then kept", func() {
		Expect(natsclient.EnsureLogStream(ctx, logger, js, cfg)).To(Succeed())
		stream, err := js.Stream(ctx, natsclient.LogsStream)
		Expect(err).NotTo(HaveOccurred())
		info := stream.CachedInfo().Config
		Expect(info.Subjects).To(Equal([]string{natsclient.LogsSubjects}))
		Expect(info.MaxMsgsPerSubject).To(BeEquivalentTo(50))
		Expect(info.MaxAge).To(Equal(time.Hour))
		Expect(info.Storage).To(Equal(jetstream.FileStorage))
		Expect(logger).To(gbytesSay("log-stream.created"))

		_, err = js.Publish(ctx, "logs.app", []byte("a line"))
		Expect(err).NotTo(HaveOccurred())
		Expect(natsclient.EnsureLogStream(ctx, logger, js, cfg)).To(Succeed())
		Expect(logger).To(gbytesSay("log-stream.found"))
		info2, err := stream.Info(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(info2.State.Msgs).To(BeEquivalentTo(1), "the found stream is used, not recreated")
	})

	It("uses a compatible stream as it is, whatever its limits", func() {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LOGS", Subjects: []string{"logs.>"},
			MaxMsgsPerSubject: 7, Storage: jetstream.MemoryStorage})
		Expect(err).NotTo(HaveOccurred())
		Expect(natsclient.EnsureLogStream(ctx, logger, js, cfg)).To(Succeed())
		stream, err := js.Stream(ctx, "LOGS")
		Expect(err).NotTo(HaveOccurred())
		Expect(stream.CachedInfo().Config.MaxMsgsPerSubject).To(BeEquivalentTo(7))
	})

	DescribeTable("refuses an incompatible stream, naming it and why, and leaves it alone",
		func(sc jetstream.StreamConfig, why string) {
			sc.Name = "LOGS"
			_, err := js.CreateStream(ctx, sc)
			Expect(err).NotTo(HaveOccurred())
			err = natsclient.EnsureLogStream(ctx, logger, js, cfg)
			var incompatible *natsclient.IncompatibleStreamError
			Expect(errors.As(err, &incompatible)).To(BeTrue(), "%v", err)
			Expect(err).To(MatchError(ContainSubstring("JetStream stream LOGS exists but cannot keep log lines")))
			Expect(err).To(MatchError(ContainSubstring(why)))
			stream, err := js.Stream(ctx, "LOGS")
			Expect(err).NotTo(HaveOccurred())
			Expect(stream.CachedInfo().Config.Subjects).To(Equal(sc.Subjects))
		},
		Entry("other subjects", jetstream.StreamConfig{Subjects: []string{"other.>"}}, `do not include "logs.>"`),
		Entry("work-queue retention", jetstream.StreamConfig{Subjects: []string{"logs.>"}, Retention: jetstream.WorkQueuePolicy}, "retention"),
		Entry("discarding new lines", jetstream.StreamConfig{Subjects: []string{"logs.>"}, Discard: jetstream.DiscardNew}, "discard is new"),
	)

	Describe("checked at a daemon's start", func() {
		It("creates the stream before it is ready", func() {
			check := &natsclient.StreamCheck{Logger: logger, Clock: clock.NewClock(), JS: js, Config: cfg}
			process := ifrit.Invoke(check)
			DeferCleanup(func() { ginkgoStop(process) })
			_, err := js.Stream(ctx, "LOGS")
			Expect(err).NotTo(HaveOccurred())
		})

		It("fails the start on an incompatible stream", func() {
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LOGS", Subjects: []string{"other.>"}})
			Expect(err).NotTo(HaveOccurred())
			check := &natsclient.StreamCheck{Logger: logger, Clock: clock.NewClock(), JS: js, Config: cfg}
			process := ifrit.Background(check)
			Eventually(process.Wait()).Should(Receive(MatchError(ContainSubstring("stream LOGS"))))
		})
	})

	DescribeTable("its config reports every mistake",
		func(change func(*natsclient.LogStreamConfig), says string) {
			c := natsclient.DefaultLogStreamConfig()
			Expect(c.Validate()).To(Succeed())
			change(&c)
			Expect(c.Validate()).To(MatchError(ContainSubstring(says)))
		},
		Entry("no lines per subject", func(c *natsclient.LogStreamConfig) { c.MaxMsgsPerSubject = 0 }, "max_msgs_per_subject"),
		Entry("zero bytes", func(c *natsclient.LogStreamConfig) { c.MaxBytes = 0 }, "max_bytes"),
		Entry("a negative age", func(c *natsclient.LogStreamConfig) { c.MaxAge = -1 }, "max_age"),
		Entry("replicas", func(c *natsclient.LogStreamConfig) { c.Replicas = 0 }, "replicas"),
		Entry("storage", func(c *natsclient.LogStreamConfig) { c.Storage = "tape" }, `"tape"`),
	)
})

func gbytesSay(s string) OmegaMatcher {
	return WithTransform(func(l *lagertest.TestLogger) string { return string(l.Buffer().Contents()) }, ContainSubstring(s))
}

func ginkgoStop(p ifrit.Process) {
	p.Signal(os.Interrupt)
	Eventually(p.Wait()).Should(Receive())
}
