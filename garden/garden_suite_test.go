package garden_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/diego-runtime/diego/garden/linux"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
)

func TestGarden(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Garden API Suite")
}

var (
	logger     lager.Logger
	stateDir   string
	registry   *imagetest.Registry
	busyboxURI string
	appURI     string
	backend    *linux.Backend
	store      *image.Store
	server     ifrit.Process
	client     *garden.Client
)

var _ = BeforeSuite(func() {
	logger = lager.NewLogger("garden-test")
	logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))
	var err error
	// A fixed, short path (overlay options carry layer paths): if a run is
	// killed, the next one's Start cleans up what it left.
	stateDir = "/tmp/dg-api"
	Expect(os.MkdirAll(stateDir, 0o755)).To(Succeed())
	Expect(os.Chmod(stateDir, 0o755)).To(Succeed())

	registry = imagetest.NewRegistry()
	Expect(imagetest.Push(registry.Host, "busybox", "latest", imagetest.Must(imagetest.BusyboxImage()))).To(Succeed())
	Expect(imagetest.Push(registry.Host, "app", "latest", imagetest.Must(imagetest.HTTPAppImage(stateDir)))).To(Succeed())
	busyboxURI = fmt.Sprintf("docker://%s/busybox#latest", registry.Host)
	appURI = fmt.Sprintf("docker://%s/app#latest", registry.Host)

	store, err = image.NewStore(logger, image.StoreConfig{Dir: filepath.Join(stateDir, "img"), InsecureRegistries: []string{registry.Host}})
	Expect(err).NotTo(HaveOccurred())
	// Named apart from the linux suite's garden (dgl), which may run at the same time.
	cfg := linux.DefaultConfig()
	cfg.InitPath = imagetest.Must(imagetest.BuildInit(stateDir))
	cfg.StateDir = filepath.Join(stateDir, "g")
	cfg.BridgeName = "dgs"
	cfg.Subnet = "10.254.42.0/24"
	cfg.PortRangeStart, cfg.PortRangeEnd = 62200, 62299
	cfg.ExternalIP = "10.254.42.1"
	backend, err = linux.New(logger, clock.NewClock(), cfg, store)
	Expect(err).NotTo(HaveOccurred())
	Expect(backend.Start(context.Background())).To(Succeed())

	socket := filepath.Join(stateDir, "garden.sock")
	server = ifrit.Invoke(garden.NewServer(logger, socket, backend))
	client = garden.NewClient(socket)
})

var _ = AfterSuite(func() {
	if server != nil {
		server.Signal(os.Interrupt)
		Eventually(server.Wait()).Should(Receive())
	}
	if backend != nil {
		Expect(backend.Shutdown(context.Background())).To(Succeed())
	}
	if store != nil {
		Expect(store.Cleanup(logger)).To(Succeed())
	}
	if registry != nil {
		registry.Close()
	}
	if stateDir != "" {
		os.RemoveAll(stateDir)
	}
})

func create(spec garden.ContainerSpec) garden.ContainerInfo {
	GinkgoHelper()
	if spec.Image.URI == "" {
		spec.Image.URI = busyboxURI
	}
	info, err := client.Create(context.Background(), spec)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if err := client.Destroy(context.Background(), info.Handle); err != nil {
			Expect(err).To(MatchError(garden.ErrContainerNotFound))
		}
	})
	return info
}
