package linux_test

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
)

func TestLinux(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Garden Linux Backend Suite")
}

// The suite's garden is named so it cannot collide with the garden package's
// suite (bridge dgs) running at the same time.
const (
	bridgeName = "dgl"
	subnet     = "10.254.40.0/24"
	portStart  = 62300
	portEnd    = 62399
)

var (
	logger     lager.Logger
	stateDir   string
	cfg        linux.Config
	store      *image.Store
	backend    *linux.Backend
	registry   *imagetest.Registry
	busyboxURI string
	appURI     string
)

var _ = BeforeSuite(func() {
	logger = lager.NewLogger("garden-linux-test")
	logger.RegisterSink(lager.NewWriterSink(GinkgoWriter, lager.INFO))

	var err error
	// Short, because overlay options carry layer paths.
	// A fixed, short path (overlay options carry layer paths): if a run is
	// killed, the next one's Start cleans up what it left.
	stateDir = "/tmp/dg-linux"
	Expect(os.MkdirAll(stateDir, 0o755)).To(Succeed())
	Expect(os.Chmod(stateDir, 0o755)).To(Succeed())

	registry = imagetest.NewRegistry()
	Expect(imagetest.Push(registry.Host, "busybox", "latest", imagetest.Must(imagetest.BusyboxImage()))).To(Succeed())
	Expect(imagetest.Push(registry.Host, "app", "latest", imagetest.Must(imagetest.HTTPAppImage(stateDir)))).To(Succeed())
	busyboxURI = fmt.Sprintf("docker://%s/busybox#latest", registry.Host)
	appURI = fmt.Sprintf("docker://%s/app#latest", registry.Host)

	// A scratch rootfs: one static binary, no shell, no libc, no /etc.
	scratch := filepath.Join(stateDir, "scratch")
	Expect(os.MkdirAll(filepath.Join(scratch, "app"), 0o755)).To(Succeed())
	app := imagetest.Must(imagetest.BuildHTTPApp(stateDir))
	Expect(os.WriteFile(filepath.Join(scratch, "app", "httpapp"), app, 0o755)).To(Succeed())

	store, err = image.NewStore(logger, image.StoreConfig{
		Dir:                filepath.Join(stateDir, "img"),
		InsecureRegistries: []string{registry.Host},
		PreloadedRootFSes:  map[string]string{"scratch": scratch},
	})
	Expect(err).NotTo(HaveOccurred())

	cfg = linux.DefaultConfig()
	cfg.InitPath = imagetest.Must(imagetest.BuildInit(stateDir))
	cfg.StateDir = filepath.Join(stateDir, "g")
	cfg.BridgeName = bridgeName
	cfg.Subnet = subnet
	cfg.PortRangeStart, cfg.PortRangeEnd = portStart, portEnd
	cfg.ExternalIP = "10.254.40.1"       // the bridge: a local address tests may send to
	Expect(cfg.Validate()).To(Succeed()) // fills the derived names the specs check
	backend, err = linux.New(logger, clock.NewClock(), cfg, store)
	Expect(err).NotTo(HaveOccurred())
	Expect(backend.Start(context.Background())).To(Succeed())
})

var _ = AfterSuite(func() {
	if backend != nil {
		Expect(backend.Shutdown(context.Background())).To(Succeed())
	}
	if store != nil {
		Expect(store.Cleanup(logger)).To(Succeed())
		store.Close()
		// The suite's own store; gardens that specs abandon as if killed keep
		// theirs until this process exits.
		Expect(loopsBackedUnder(filepath.Join(stateDir, "img"))).To(BeEmpty(), "every container's disk and every ready one is released")
	}
	if registry != nil {
		registry.Close()
	}
	if stateDir != "" {
		os.RemoveAll(stateDir)
	}
})

// create makes a container that the spec's cleanup destroys.
func create(spec garden.ContainerSpec) garden.ContainerInfo {
	GinkgoHelper()
	if spec.Image.URI == "" {
		spec.Image.URI = busyboxURI
	}
	info, err := backend.Create(context.Background(), spec)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		err := backend.Destroy(context.Background(), info.Handle)
		if err != nil {
			Expect(err).To(MatchError(garden.ErrContainerNotFound))
		}
	})
	return info
}
