package linux

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/reach"
)

// DaemonConfig is a whole garden: the backend, its image store and the socket
// it serves. cmd/garden reads it from JSON; `diego up` builds one per cell.
type DaemonConfig struct {
	Config
	// SocketPath is the unix socket the API is served on. Default
	// StateDir + "/garden.sock".
	SocketPath string `json:"socket_path"`
	// ImageStoreDir holds the layer cache and container rootfses. Keep it
	// short (overlay options carry its path once per layer). Default
	// StateDir + "/images".
	ImageStoreDir string `json:"image_store_dir"`
	// PreloadedRootFSes maps preloaded:name URIs to rootfs directories.
	// Default none.
	PreloadedRootFSes map[string]string `json:"preloaded_rootfses"`
	// InsecureRegistries may be reached over plain HTTP (host:port). Default none.
	InsecureRegistries []string `json:"insecure_registries"`
	// DefaultRegistry serves docker:///repo URIs. Default "index.docker.io".
	DefaultRegistry string `json:"default_registry"`
	// ImageHostPaths are the absolute directories oci:/// and
	// docker-archive:/// image URIs may name files below (regular files and
	// directories reached without symlinks). Default none: both schemes are
	// refused as bad URIs.
	ImageHostPaths []string `json:"image_host_paths"`
	// LayerCacheMaxBytes bounds the image layer cache: past it, layers no
	// container or pull uses are deleted, least recently used first.
	// Default (0) 20 GiB (image.DefaultLayerCacheMaxBytes).
	LayerCacheMaxBytes int64 `json:"layer_cache_max_bytes"`
	// DestroyOnExit destroys every container when the daemon is stopped.
	// Default false: they are left to the next start's cleanup.
	DestroyOnExit bool `json:"destroy_on_exit"`
}

// DefaultDaemonConfig returns every default; StateDir is still required.
func DefaultDaemonConfig() DaemonConfig {
	return DaemonConfig{Config: DefaultConfig()}
}

// Validate checks the config and fills the defaults derived from StateDir.
func (c *DaemonConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.SocketPath == "" {
		c.SocketPath = filepath.Join(c.StateDir, "garden.sock")
	}
	if c.ImageStoreDir == "" {
		c.ImageStoreDir = filepath.Join(c.StateDir, "images")
	}
	return nil
}

// Daemon runs a garden as an ifrit runner: ready once leftovers are cleaned,
// the network is set up and the socket listens.
type Daemon struct {
	logger  lager.Logger
	cfg     DaemonConfig
	Backend *Backend
	store   *image.Store
}

// NewDaemon builds the image store and the backend; Run starts them.
func NewDaemon(logger lager.Logger, clk clock.Clock, cfg DaemonConfig) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := prepareImageStoreParent(cfg); err != nil {
		return nil, err
	}
	store, err := image.NewStore(logger, image.StoreConfig{
		Dir:                cfg.ImageStoreDir,
		PreloadedRootFSes:  cfg.PreloadedRootFSes,
		InsecureRegistries: cfg.InsecureRegistries,
		DefaultRegistry:    cfg.DefaultRegistry,
		HostImagePaths:     cfg.ImageHostPaths,
		LayerCacheMaxBytes: cfg.LayerCacheMaxBytes,
		MaxImageBytes:      cfg.MaxImageMB * mib,
	})
	if err != nil {
		return nil, err
	}
	// The store made its own directory (0711); check it as runc will see it.
	if err := reach.Check(cfg.ImageStoreDir, cfg.ContainerRoot()); err != nil {
		return nil, fmt.Errorf("garden image_store_dir: %w", err)
	}
	b, err := New(logger, clk, cfg.Config, store)
	if err != nil {
		return nil, err
	}
	return &Daemon{logger: logger, cfg: cfg, Backend: b, store: store}, nil
}

// Collectors are the daemon's Prometheus series beyond the backend's: the
// image store's layer cache size and evictions.
func (d *Daemon) Collectors() []prometheus.Collector { return d.store.Collectors() }

// Run implements ifrit.Runner.
func (d *Daemon) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if err := d.Backend.Start(context.Background()); err != nil {
		return fmt.Errorf("starting garden: %w", err)
	}
	server := garden.NewServer(d.logger, d.cfg.SocketPath, d.Backend)
	err := server.Run(signals, ready)
	if d.cfg.DestroyOnExit {
		if serr := d.Backend.Shutdown(context.Background()); serr != nil {
			d.logger.Error("shutdown-failed", serr)
		}
	}
	// The file systems kept ready for creates, and those of destroyed
	// containers still being released, go now; containers' own stay for
	// the next start unless destroyed above.
	d.store.Close()
	return err
}
