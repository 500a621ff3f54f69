package natsclient_test

import (
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/natsclient"
)

var _ = Describe("Connecting to a list of NATS servers", func() {
	It("needs at least one URL", func() {
		_, err := natsclient.Connect(lagertest.NewTestLogger("test"), natsclient.Options{Name: "t"})
		Expect(err).To(MatchError(ContainSubstring("no server URLs")))
	})

	It("rides the loss of the server it is on, moving to another of the list and logging both", func() {
		first, second := startNATS(), startNATS()
		logger := lagertest.NewTestLogger("test")
		conn, err := natsclient.Connect(logger, natsclient.Options{Name: "t",
			URLs: []string{first.ClientURL(), second.ClientURL()}, ReconnectWait: 50 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(conn.Close)
		Eventually(conn.IsConnected).Should(BeTrue())
		Expect(conn.ConnectedUrl()).To(Equal(first.ClientURL()), "the list is tried in its order")

		received := make(chan *nats.Msg, 1)
		watcher, err := nats.Connect(second.ClientURL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(watcher.Close)
		_, err = watcher.ChanSubscribe("hello", received)
		Expect(err).NotTo(HaveOccurred())
		Expect(watcher.Flush()).To(Succeed())

		first.Shutdown()
		Eventually(func() string { return conn.ConnectedUrl() }, 10*time.Second).Should(Equal(second.ClientURL()))
		Expect(conn.Publish("hello", []byte("still here"))).To(Succeed())
		Eventually(received, 5*time.Second).Should(Receive(WithTransform(func(m *nats.Msg) string { return string(m.Data) }, Equal("still here"))))
		Expect(logger).To(gbytesSay("test.nats.disconnected"))
		Expect(logger).To(gbytesSay("test.nats.reconnected"))
	})
})
