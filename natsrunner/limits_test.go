package natsrunner_test

import (
	"context"
	"strings"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ginkgomon "github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/natsrunner"
)

// logsStreamInfo reads the LOGS stream's info through a client of runner.
func logsStreamInfo(runner *natsrunner.Runner) *jetstream.StreamInfo {
	js, err := jetstream.New(connect(runner.ClientURL()))
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, natsrunner.LogsStream)
	Expect(err).NotTo(HaveOccurred())
	info, err := stream.Info(ctx)
	Expect(err).NotTo(HaveOccurred())
	return info
}

var _ = Describe("The LOGS stream's bounds", func() {
	var config natsrunner.Config

	BeforeEach(func() {
		config = natsrunner.DefaultConfig()
		config.Port = 0
		config.StorageDir = GinkgoT().TempDir()
	})

	start := func() (*natsrunner.Runner, func()) {
		runner := natsrunner.New(lager.NewLogger("test"), config)
		process, err := natsrunner.Start(runner)
		Expect(err).NotTo(HaveOccurred())
		return runner, func() { ginkgomon.Interrupt(process, 10*time.Second) }
	}

	It("are 256 MiB and 24 hours by default", func() {
		config.LogsMaxBytes, config.LogsMaxAge = 0, 0 // as a config file without the keys
		runner, stop := start()
		defer stop()
		info := logsStreamInfo(runner)
		Expect(info.Config.MaxBytes).To(BeEquivalentTo(256 << 20))
		Expect(info.Config.MaxAge).To(Equal(24 * time.Hour))
		Expect(info.Config.Discard).To(Equal(jetstream.DiscardOld))
	})

	It("come from the config on creation, and the oldest lines go once the stream holds max bytes", func() {
		config.LogsMaxBytes, config.LogsMaxAge = 64*1024, 90*time.Minute
		runner, stop := start()
		defer stop()
		info := logsStreamInfo(runner)
		Expect(info.Config.MaxBytes).To(BeEquivalentTo(64 * 1024))
		Expect(info.Config.MaxAge).To(Equal(90 * time.Minute))

		js, err := jetstream.New(connect(runner.ClientURL()))
		Expect(err).NotTo(HaveOccurred())
		line := strings.Repeat("y", 1024)
		for i := 0; i < 200; i++ { // about 200 KiB into a 64 KiB stream, over several apps
			_, err := js.Publish(context.Background(), "logs.app-"+string(rune('a'+i%5)), []byte(line))
			Expect(err).NotTo(HaveOccurred())
		}
		info = logsStreamInfo(runner)
		Expect(info.State.Bytes).To(BeNumerically("<=", 64*1024))
		Expect(info.State.LastSeq).To(BeEquivalentTo(200))
		Expect(info.State.FirstSeq).To(BeNumerically(">", 100))
	})

	It("drop lines older than max age", func() {
		config.LogsMaxAge = time.Second
		runner, stop := start()
		defer stop()
		js, err := jetstream.New(connect(runner.ClientURL()))
		Expect(err).NotTo(HaveOccurred())
		_, err = js.Publish(context.Background(), "logs.app", []byte("soon gone"))
		Expect(err).NotTo(HaveOccurred())
		Expect(logsStreamInfo(runner).State.Msgs).To(BeEquivalentTo(1))
		Eventually(func() uint64 { return logsStreamInfo(runner).State.Msgs }, 10*time.Second, 200*time.Millisecond).Should(BeZero())
	})

	It("are put back on an existing stream with other limits at start", func() {
		runner, stop := start()
		js, err := jetstream.New(connect(runner.ClientURL()))
		Expect(err).NotTo(HaveOccurred())
		ctx := context.Background()
		// Someone (an older version, an operator) left the stream unbounded.
		stream, err := js.Stream(ctx, natsrunner.LogsStream)
		Expect(err).NotTo(HaveOccurred())
		changed := stream.CachedInfo().Config
		changed.MaxBytes, changed.MaxAge = -1, 0
		_, err = js.UpdateStream(ctx, changed)
		Expect(err).NotTo(HaveOccurred())
		Expect(logsStreamInfo(runner).Config.MaxBytes).To(BeEquivalentTo(-1))
		stop()

		config.LogsMaxBytes, config.LogsMaxAge = 32<<20, 6*time.Hour
		runner, stop = start()
		defer stop()
		info := logsStreamInfo(runner)
		Expect(info.Config.MaxBytes).To(BeEquivalentTo(32 << 20))
		Expect(info.Config.MaxAge).To(Equal(6 * time.Hour))
		Expect(info.Config.MaxMsgsPerSubject).To(BeEquivalentTo(natsrunner.DefaultLogsMaxMsgsPerSubject))
	})

	It("can be turned off with -1 bytes and a negative age", func() {
		config.LogsMaxBytes, config.LogsMaxAge = -1, -time.Second
		runner, stop := start()
		defer stop()
		info := logsStreamInfo(runner)
		Expect(info.Config.MaxBytes).To(BeEquivalentTo(-1))
		Expect(info.Config.MaxAge).To(BeZero())
	})
})
