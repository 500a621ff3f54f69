// Package testgarden starts a real garden (image store, linux backend, unix
// socket server) for the suites of the components above garden, with a local
// registry holding the busybox and test app images. Each suite names its own
// bridge, subnet and port range so suites can run side by side.
package testgarden

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/diego-runtime/diego/garden/linux"
)

// Network gives a suite's garden its own share of the machine.
type Network struct {
	Bridge    string // at most 9 characters
	Subnet    string // e.g. 10.254.44.0/24
	Gateway   string // the subnet's first address, used as the external IP
	PortStart uint32
	PortEnd   uint32
}

// Garden is a running garden and the images it can run.
type Garden struct {
	Client     *garden.Client
	Socket     string
	ExternalIP string
	BusyboxURI string
	AppURI     string

	dir      string
	registry *imagetest.Registry
	store    *image.Store
	backend  *linux.Backend
	process  ifrit.Process
	logger   lager.Logger
}

// Start starts a garden on the given network. Stop it with Stop.
func Start(logger lager.Logger, network Network) (*Garden, error) {
	// Short: overlay mount options carry layer paths.
	dir, err := os.MkdirTemp("/tmp", "tg")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	g := &Garden{dir: dir, logger: logger, ExternalIP: network.Gateway}
	g.registry = imagetest.NewRegistry()
	busybox, err := imagetest.BusyboxImage()
	if err != nil {
		return nil, g.fail(err)
	}
	app, err := imagetest.HTTPAppImage(dir)
	if err != nil {
		return nil, g.fail(err)
	}
	if err := imagetest.Push(g.registry.Host, "busybox", "latest", busybox); err != nil {
		return nil, g.fail(err)
	}
	if err := imagetest.Push(g.registry.Host, "app", "latest", app); err != nil {
		return nil, g.fail(err)
	}
	g.BusyboxURI = fmt.Sprintf("docker://%s/busybox#latest", g.registry.Host)
	g.AppURI = fmt.Sprintf("docker://%s/app#latest", g.registry.Host)

	g.store, err = image.NewStore(logger, image.StoreConfig{Dir: filepath.Join(dir, "img"), InsecureRegistries: []string{g.registry.Host}})
	if err != nil {
		return nil, g.fail(err)
	}
	cfg := linux.DefaultConfig()
	if cfg.InitPath, err = imagetest.BuildInit(dir); err != nil {
		return nil, g.fail(err)
	}
	cfg.StateDir = filepath.Join(dir, "g")
	cfg.BridgeName = network.Bridge
	cfg.Subnet = network.Subnet
	cfg.PortRangeStart, cfg.PortRangeEnd = network.PortStart, network.PortEnd
	cfg.ExternalIP = network.Gateway
	g.backend, err = linux.New(logger, clock.NewClock(), cfg, g.store)
	if err != nil {
		return nil, g.fail(err)
	}
	if err := g.backend.Start(context.Background()); err != nil {
		return nil, g.fail(err)
	}
	g.Socket = filepath.Join(dir, "garden.sock")
	g.process = ifrit.Invoke(garden.NewServer(logger, g.Socket, g.backend))
	g.Client = garden.NewClient(g.Socket)
	return g, nil
}

func (g *Garden) fail(err error) error {
	g.Stop()
	return err
}

// DestroyAll destroys every container (between specs).
func (g *Garden) DestroyAll() error {
	handles, err := g.Client.List(context.Background(), nil)
	if err != nil {
		return err
	}
	for _, h := range handles {
		if err := g.Client.Destroy(context.Background(), h); err != nil {
			return err
		}
	}
	return nil
}

// Stop destroys every container, stops garden and removes its state.
func (g *Garden) Stop() {
	if g.process != nil {
		_ = g.DestroyAll()
		g.process.Signal(os.Interrupt)
		<-g.process.Wait()
	}
	if g.backend != nil {
		_ = g.backend.Shutdown(context.Background())
	}
	if g.store != nil {
		_ = g.store.Cleanup(g.logger)
	}
	if g.registry != nil {
		g.registry.Close()
	}
	os.RemoveAll(g.dir)
}
