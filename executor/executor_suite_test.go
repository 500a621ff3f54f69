package executor_test

import (
	"os"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/internal/testgarden"
	"github.com/diego-runtime/diego/natsrunner"
)

func TestExecutor(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Executor Suite")
}

var (
	logger   lager.Logger
	tg       *testgarden.Garden
	natsProc ifrit.Process
	natsConn *nats.Conn
)

var _ = BeforeSuite(func() {
	logger = lager.NewLogger("executor-test")
	logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))
	var err error
	tg, err = testgarden.Start(logger, testgarden.Network{
		Bridge: "dgx", Subnet: "10.254.44.0/24", Gateway: "10.254.44.1", PortStart: 62500, PortEnd: 62599,
	})
	Expect(err).NotTo(HaveOccurred())

	runner, process, err := natsrunner.StartForTest(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	natsProc = process
	natsConn, err = nats.Connect(runner.ClientURL())
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if natsConn != nil {
		natsConn.Close()
	}
	if natsProc != nil {
		natsProc.Signal(os.Interrupt)
		<-natsProc.Wait()
	}
	if tg != nil {
		tg.Stop()
	}
})
