package natsrunner_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ginkgomon "github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/natsrunner"
)

func connect(url string) *nats.Conn {
	nc, err := nats.Connect(url)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(nc.Close)
	return nc
}

func lastSeqs(js jetstream.JetStream, subject string, n int) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, natsrunner.LogsStream)
	Expect(err).NotTo(HaveOccurred())
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	Expect(err).NotTo(HaveOccurred())
	Expect(info.State.Subjects).To(HaveKey(subject))
	Expect(int(info.State.Subjects[subject])).To(Equal(n))
	consumer, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	Expect(err).NotTo(HaveOccurred())
	batch, err := consumer.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for m := range batch.Messages() {
		out = append(out, string(m.Data()))
	}
	return out
}

var _ = Describe("Runner", func() {
	Context("started for a test", func() {
		var runner *natsrunner.Runner

		BeforeEach(func() {
			r, p, err := natsrunner.StartForTest(GinkgoT().TempDir())
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { ginkgomon.Interrupt(p, 10*time.Second) })
			runner = r
		})

		It("accepts clients on a loopback port", func() {
			Expect(runner.ClientURL()).To(MatchRegexp(`^nats://127\.0\.0\.1:\d+$`))
			nc := connect(runner.ClientURL())
			sub, err := nc.SubscribeSync("hello")
			Expect(err).NotTo(HaveOccurred())
			Expect(nc.Publish("hello", []byte("world"))).To(Succeed())
			msg, err := sub.NextMsg(2 * time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(msg.Data)).To(Equal("world"))
		})

		It("keeps the most recent log lines per subject in the LOGS stream", func() {
			nc := connect(runner.ClientURL())
			js, err := jetstream.New(nc)
			Expect(err).NotTo(HaveOccurred())
			ctx := context.Background()
			for i := 0; i < natsrunner.DefaultLogsMaxMsgsPerSubject+5; i++ {
				_, err := js.Publish(ctx, "logs.app-a", []byte(fmt.Sprintf("line %d", i)))
				Expect(err).NotTo(HaveOccurred())
			}
			_, err = js.Publish(ctx, "logs.app-b", []byte("only line"))
			Expect(err).NotTo(HaveOccurred())

			lines := lastSeqs(js, "logs.app-a", natsrunner.DefaultLogsMaxMsgsPerSubject)
			Expect(lines[0]).To(Equal("line 5"))
			Expect(lines[len(lines)-1]).To(Equal(fmt.Sprintf("line %d", natsrunner.DefaultLogsMaxMsgsPerSubject+4)))
			Expect(lastSeqs(js, "logs.app-b", 1)).To(Equal([]string{"only line"}))
		})

		It("runs beside another one without clashing", func() {
			other, p, err := natsrunner.StartForTest(GinkgoT().TempDir())
			Expect(err).NotTo(HaveOccurred())
			defer ginkgomon.Interrupt(p, 10*time.Second)
			Expect(other.ClientURL()).NotTo(Equal(runner.ClientURL()))
		})
	})

	Context("with file storage", func() {
		It("keeps log lines across a restart and applies a new per-subject bound", func() {
			dir := GinkgoT().TempDir()
			config := natsrunner.DefaultConfig()
			config.Port = 0
			config.StorageDir = dir
			config.LogsMaxMsgsPerSubject = 3
			runner := natsrunner.New(lager.NewLogger("test"), config)
			process, err := natsrunner.Start(runner)
			Expect(err).NotTo(HaveOccurred())
			nc := connect(runner.ClientURL())
			js, err := jetstream.New(nc)
			Expect(err).NotTo(HaveOccurred())
			for i := 0; i < 5; i++ {
				_, err := js.Publish(context.Background(), "logs.app", []byte(fmt.Sprint(i)))
				Expect(err).NotTo(HaveOccurred())
			}
			nc.Close()
			ginkgomon.Interrupt(process, 10*time.Second)

			config.LogsMaxMsgsPerSubject = 2
			runner = natsrunner.New(lager.NewLogger("test"), config)
			process, err = natsrunner.Start(runner)
			Expect(err).NotTo(HaveOccurred())
			defer ginkgomon.Interrupt(process, 10*time.Second)
			js, err = jetstream.New(connect(runner.ClientURL()))
			Expect(err).NotTo(HaveOccurred())
			Expect(lastSeqs(js, "logs.app", 2)).To(Equal([]string{"3", "4"}))
		})
	})

	Context("when the port is taken", func() {
		It("fails to start and says why", func() {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			defer l.Close()
			config := natsrunner.DefaultConfig()
			config.Port = l.Addr().(*net.TCPAddr).Port
			_, err = natsrunner.Start(natsrunner.New(lager.NewLogger("test"), config))
			Expect(err).To(HaveOccurred())
		})
	})

	DescribeTable("Config.Validate",
		func(mutate func(*natsrunner.Config), ok bool) {
			c := natsrunner.DefaultConfig()
			mutate(&c)
			if ok {
				Expect(c.Validate()).To(Succeed())
			} else {
				Expect(c.Validate()).NotTo(Succeed())
			}
		},
		Entry("defaults", func(*natsrunner.Config) {}, true),
		Entry("random port", func(c *natsrunner.Config) { c.Port = 0 }, true),
		Entry("negative port", func(c *natsrunner.Config) { c.Port = -1 }, false),
		Entry("port too high", func(c *natsrunner.Config) { c.Port = 70000 }, false),
		Entry("negative bound", func(c *natsrunner.Config) { c.LogsMaxMsgsPerSubject = -1 }, false),
		Entry("no byte bound", func(c *natsrunner.Config) { c.LogsMaxBytes = -1 }, true),
		Entry("a negative byte bound other than -1", func(c *natsrunner.Config) { c.LogsMaxBytes = -2 }, false),
	)
})
