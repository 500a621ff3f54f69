package natsclient_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestNATSClient(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "NATS Client Suite")
}

// startNATS runs a real NATS server with JetStream on a free loopback port
// and no stream at all, stopped when the spec ends.
func startNATS() *server.Server {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: GinkgoT().TempDir(), NoSigs: true, NoLog: true})
	Expect(err).NotTo(HaveOccurred())
	go s.Start()
	Expect(s.ReadyForConnections(10 * time.Second)).To(BeTrue())
	DeferCleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}
