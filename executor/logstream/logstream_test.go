package logstream_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3/lagertest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Publishing an instance's output on NATS", func() {
	var (
		conn     *nats.Conn
		received chan models.LogEnvelope
		emitter  *logstream.Emitter
	)

	BeforeEach(func() {
		srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
		Expect(err).NotTo(HaveOccurred())
		go srv.Start()
		Expect(srv.ReadyForConnections(5 * time.Second)).To(BeTrue())
		DeferCleanup(srv.Shutdown)

		conn, err = nats.Connect(srv.ClientURL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(conn.Close)

		received = make(chan models.LogEnvelope, 1000)
		sub, err := conn.Subscribe("logs.app-guid", func(m *nats.Msg) {
			var env models.LogEnvelope
			Expect(json.Unmarshal(m.Data, &env)).To(Succeed())
			received <- env
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sub.Unsubscribe)
		Expect(conn.Flush()).To(Succeed())

		emitter = &logstream.Emitter{Publisher: conn, Clock: clock.NewClock(), Logger: lagertest.NewTestLogger("logs")}
	})

	next := func() models.LogEnvelope {
		var env models.LogEnvelope
		EventuallyWithOffset(1, received).Should(Receive(&env))
		return env
	}

	It("publishes each line in order as an envelope naming source, instance and stream", func() {
		s := emitter.Streamer("app-guid", models.LogSourceApp, 3)
		fmt.Fprint(s.Stdout(), "first\nsecond\r\nthi")
		stderr := s.Stderr()
		fmt.Fprint(stderr, "oops\n")

		first := next()
		Expect(first.LogGuid).To(Equal("app-guid"))
		Expect(first.SourceType).To(Equal("APP"))
		Expect(first.SourceInstance).To(Equal("3"))
		Expect(first.MessageType).To(Equal("OUT"))
		Expect(first.Message).To(Equal("first"))
		Expect(first.Timestamp).To(BeNumerically("~", time.Now().UnixNano(), int64(5*time.Second)))
		Expect(next().Message).To(Equal("second"))
		oops := next()
		Expect(oops.MessageType).To(Equal("ERR"))
		Expect(oops.Message).To(Equal("oops"))
	})

	It("labels lines of another source and the cell's own lines", func() {
		s := emitter.Streamer("app-guid", models.LogSourceApp, 0)
		fmt.Fprintln(s.WithSource("STG").Stdout(), "staging")
		s.WithSource(models.LogSourceCell).(*logstream.Streamer).Printf("Cell %s creating container", "cell-1")
		Expect(next().SourceType).To(Equal("STG"))
		cell := next()
		Expect(cell.SourceType).To(Equal("CELL"))
		Expect(cell.Message).To(Equal("Cell cell-1 creating container"))
	})

	It("splits a line longer than 60 KiB", func() {
		s := emitter.Streamer("app-guid", models.LogSourceApp, 0)
		fmt.Fprintln(s.Stdout(), strings.Repeat("x", models.MaxLogLineBytes+10))
		Expect(next().Message).To(HaveLen(models.MaxLogLineBytes))
		Expect(next().Message).To(HaveLen(10))
	})

	It("drops lines over the rate limit and then says how many it dropped", func() {
		emitter.LinesPerSecond = 5
		s := emitter.Streamer("app-guid", models.LogSourceApp, 1)
		out := s.Stdout()
		for i := 0; i < 50; i++ {
			fmt.Fprintf(out, "line %d\n", i)
		}
		for i := 0; i < 5; i++ {
			Expect(next().Message).To(Equal(fmt.Sprintf("line %d", i)))
		}
		Consistently(received, 100*time.Millisecond).ShouldNot(Receive())
		time.Sleep(300 * time.Millisecond) // let the bucket refill a token
		fmt.Fprintln(out, "after the burst")
		report := next()
		Expect(report.SourceType).To(Equal("CELL"))
		Expect(report.Message).To(Equal("Dropped 45 log lines: the instance logged more than 5 lines per second"))
		Expect(next().Message).To(Equal("after the burst"))
	})
})
