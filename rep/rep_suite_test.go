package rep_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/testgarden"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/rep/repapi"
)

func TestRep(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Rep Suite")
}

var (
	logger   lager.Logger
	tg       *testgarden.Garden
	etcd     *etcdrunner.Runner
	etcdCli  *clientv3.Client
	db       *bbs.DB
	natsProc ifrit.Process
	natsConn *nats.Conn
)

// repClients reaches reps at the URL of their presence, as the BBS does.
type repClients struct{}

func (repClients) RepClient(cell *models.CellPresence) (bbs.RepClient, error) {
	return repapi.NewClient(http.DefaultClient, cell.RepURL), nil
}

var _ = BeforeSuite(func() {
	logger = lager.NewLogger("rep-test")
	logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))
	var err error
	tg, err = testgarden.Start(logger, testgarden.Network{
		Bridge: "dgr", Subnet: "10.254.48.0/24", Gateway: "10.254.48.1", PortStart: 62600, PortEnd: 62699,
	})
	Expect(err).NotTo(HaveOccurred())

	etcd, err = etcdrunner.New(etcdrunner.Config{DataDir: filepath.Join(GinkgoT().TempDir(), "etcd"), UnsafeNoFsync: true})
	Expect(err).NotTo(HaveOccurred())
	Expect(etcd.Start()).To(Succeed())
	etcdCli, err = etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	db, err = bbs.New(bbs.Options{Client: etcdCli, Logger: logger, RepClients: repClients{}})
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
	if etcdCli != nil {
		etcdCli.Close()
	}
	if etcd != nil {
		etcd.Stop()
	}
	if tg != nil {
		tg.Stop()
	}
})
