package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"code.cloudfoundry.org/lager/v3"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// DefaultRegistry is where docker:///repo URIs are fetched from unless
// StoreConfig.DefaultRegistry says otherwise.
const DefaultRegistry = "index.docker.io"

// StoreConfig configures a Store.
type StoreConfig struct {
	// Dir is the state directory (absolute): the layer cache in Dir/layers and
	// per-container directories in Dir/containers. Required. Keep it short:
	// each layer of an image adds Dir's length to the overlay mount options.
	Dir string
	// PreloadedRootFSes maps names usable as preloaded:name to rootfs
	// directories. Default: none.
	PreloadedRootFSes map[string]string
	// InsecureRegistries lists host:port registries that may be reached over
	// plain HTTP. Default: none; every other registry must answer HTTPS.
	InsecureRegistries []string
	// DefaultRegistry serves docker:///repo URIs. Default "index.docker.io".
	DefaultRegistry string
	// HostImagePaths are the absolute directories oci:/// and
	// docker-archive:/// URIs may name something below. Default none: both
	// schemes are refused.
	HostImagePaths []string
	// LayerCacheMaxBytes bounds the layer cache (bytes allocated on disk):
	// past it, layers no container or pull uses are deleted, least recently
	// used first. Default (0) DefaultLayerCacheMaxBytes, 20 GiB.
	LayerCacheMaxBytes int64
	// MaxImageBytes caps what the layers a create unpacks may decompress to,
	// together; past it the create fails (ErrImageTooLarge) and the layer
	// being unpacked is not cached. Default DefaultMaxImageBytes.
	MaxImageBytes int64
	// DiskPoolDepth is how many containers' file systems of each recently
	// used size are kept formatted and ready (diskpool.go). Default (0)
	// DefaultDiskPoolDepth; negative: none, each create formats its own.
	DiskPoolDepth int
}

// Store makes container root filesystems from images. It is safe for
// concurrent use; it expects to be the only user of its Dir.
type Store struct {
	dir, layersDir, containersDir string
	preloaded                     map[string]string
	insecure                      map[string]bool
	hostPaths                     []string // cleaned HostImagePaths
	defaultRegistry               string
	maxImageBytes                 int64
	disks                         *disks    // containers' file systems (disk.go)
	diskPool                      *diskPool // ready ones, and releases (diskpool.go)
	transport                     http.RoundTripper
	anonymous                     *remote.Puller     // for pulls without credentials
	unpacks                       singleflight.Group // keyed by cache dir
	cache                         *layerCache

	// Config files by digest: the manifest names the digest, so a create from
	// a known image needs no second registry round trip. Config files are a
	// few KB and a cell runs few distinct images, so the map is not pruned.
	configsMu sync.Mutex
	configs   map[v1.Hash]*v1.ConfigFile
}

// NewStore creates the state directories if needed. It does not clean up:
// call Cleanup once at start.
func NewStore(logger lager.Logger, cfg StoreConfig) (*Store, error) {
	if !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("image store dir %q must be an absolute path", cfg.Dir)
	}
	dir := filepath.Clean(cfg.Dir)
	var err error
	if strings.ContainsAny(dir, ":,") {
		return nil, fmt.Errorf("image store dir %q must not contain ':' or ',' (overlay options)", dir)
	}
	s := &Store{
		dir:             dir,
		layersDir:       filepath.Join(dir, "layers"),
		containersDir:   filepath.Join(dir, "containers"),
		preloaded:       map[string]string{},
		configs:         map[v1.Hash]*v1.ConfigFile{},
		insecure:        map[string]bool{},
		defaultRegistry: cfg.DefaultRegistry,
	}
	if s.defaultRegistry == "" {
		s.defaultRegistry = DefaultRegistry
	}
	s.disks = &disks{dir: filepath.Join(dir, "disks")}
	depth := cfg.DiskPoolDepth
	if depth == 0 {
		depth = DefaultDiskPoolDepth
	}
	s.diskPool = newDiskPool(logger.Session("image-store"), s.disks, depth)
	s.maxImageBytes = cfg.MaxImageBytes
	if s.maxImageBytes <= 0 {
		s.maxImageBytes = DefaultMaxImageBytes
	}
	for name, path := range cfg.PreloadedRootFSes {
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("preloaded rootfs %q: %q must be an absolute path", name, path)
		}
		s.preloaded[name] = filepath.Clean(path)
	}
	if s.hostPaths, err = hostPathDirs(cfg.HostImagePaths); err != nil {
		return nil, err
	}
	for _, host := range cfg.InsecureRegistries {
		s.insecure[host] = true
	}
	s.transport = &httpsUnlessInsecure{next: remote.DefaultTransport, insecure: s.insecure}
	// Anonymous pulls share one puller: it keeps each repository's
	// transport (and token), so a create from a cached image costs the
	// manifest request alone, not a /v2/ ping before it.
	if s.anonymous, err = remote.NewPuller(remote.WithAuth(authn.Anonymous), remote.WithTransport(s.transport), remote.WithPlatform(platform)); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}

	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	if cfg.LayerCacheMaxBytes < 0 {
		return nil, fmt.Errorf("layer cache max bytes %d must not be negative", cfg.LayerCacheMaxBytes)
	}
	if cfg.LayerCacheMaxBytes == 0 {
		cfg.LayerCacheMaxBytes = DefaultLayerCacheMaxBytes
	}
	s.cache = newLayerCache(s.layersDir, cfg.LayerCacheMaxBytes)
	if err := s.cache.load(logger.Session("image-store")); err != nil {
		return nil, err
	}
	logger.Session("image-store").Info("created", lager.Data{"dir": s.dir})
	return s, nil
}

// containerPaths are the directories of one container under Dir/containers.
type containerPaths struct{ dir, rootfs, upper, work string }

func (s *Store) paths(handle string) containerPaths {
	dir := filepath.Join(s.containersDir, handle)
	return containerPaths{
		dir:    dir,
		rootfs: filepath.Join(dir, "rootfs"),
		upper:  filepath.Join(dir, "upper"),
		work:   filepath.Join(dir, "work"),
	}
}

func validHandle(handle string) error {
	if handle == "" || handle == "." || handle == ".." || len(handle) > 255 || strings.ContainsAny(handle, "/\x00") {
		return fmt.Errorf("invalid container handle %q", handle)
	}
	return nil
}

// Create fetches the image if needed and mounts a rootfs for handle at
// Dir/containers/<handle>/rootfs. On error nothing of handle is left behind.
// A handle that already has a rootfs gives ErrHandleExists.
func (s *Store) Create(ctx context.Context, logger lager.Logger, handle string, spec Spec) (_ Image, err error) {
	logger = logger.Session("create-rootfs", lager.Data{"handle": handle, "uri": spec.URI})
	if err := validHandle(handle); err != nil {
		return Image{}, err
	}
	src, err := parseSpec(spec)
	if err != nil {
		return Image{}, err
	}

	p := s.paths(handle)
	if err := os.Mkdir(p.dir, containerDirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Image{}, fmt.Errorf("creating rootfs for %s: %w", handle, ErrHandleExists)
		}
		return Image{}, fmt.Errorf("creating rootfs for %s: %w", handle, err)
	}
	held := s.cache.newHold()
	defer func() {
		if err != nil {
			if cleanupErr := s.removeContainer(p); cleanupErr != nil {
				logger.Error("cleanup-failed", cleanupErr)
				// The layers may still be mounted: keep them held.
				s.cache.keep(handle, held)
			} else {
				held.release()
			}
			logger.Error("failed", err)
		}
	}()

	if spec.DiskLimitBytes > 0 {
		if err := s.diskPool.attach(ctx, p.dir, spec.DiskLimitBytes); err != nil {
			return Image{}, fmt.Errorf("creating rootfs for %s: disk limit: %w", handle, err)
		}
	}

	ids := idShifter{uids: spec.UIDMappings, gids: spec.GIDMappings}
	var lowers []string
	var config Config
	if src.scheme == schemePreloaded {
		lowers, err = s.preloadedLowers(logger, held, spec.URI, src.name, ids)
	} else {
		lowers, config, err = s.fetchLayers(ctx, logger, held, spec, src, ids)
	}
	if err != nil {
		return Image{}, err
	}

	root := owner{uid: ids.uid(0), gid: ids.gid(0)}
	if iso := spec.Isolation; iso != nil {
		root = ownerOf(iso)
	}
	if err := makeContainerDirs(p, root); err != nil {
		return Image{}, fmt.Errorf("creating rootfs for %s: %w", handle, err)
	}
	if spec.Isolation != nil {
		if lowers, err = mountIDMapped(lowers, p.dir, spec.Isolation.UserNS); err != nil {
			return Image{}, fmt.Errorf("creating rootfs for %s: %w", handle, err)
		}
	}
	if err := mountOverlay(lowers, p.upper, p.work, p.rootfs); err != nil {
		return Image{}, fmt.Errorf("creating rootfs for %s: %w", handle, err)
	}
	s.cache.keep(handle, held)
	s.cache.evict(logger)
	logger.Info("created", lager.Data{"layers": len(lowers)})
	return Image{RootFSPath: p.rootfs, Config: config}, nil
}

func (s *Store) fetchLayers(ctx context.Context, logger lager.Logger, held *hold, spec Spec, src source, ids idShifter) ([]string, Config, error) {
	img, err := s.fetchImage(ctx, spec, src)
	if err != nil {
		return nil, Config{}, err
	}
	cf, err := s.configFile(spec.URI, src, img)
	if err != nil {
		return nil, Config{}, err
	}
	lowers, err := s.imageLayers(ctx, logger, held, spec.URI, img, cf, ids)
	if err != nil {
		return nil, Config{}, err
	}
	return lowers, configFrom(cf), nil
}

// Config returns the image's config without unpacking or mounting anything.
// A preloaded rootfs has no config: its Config is empty.
func (s *Store) Config(ctx context.Context, spec Spec) (Config, error) {
	src, err := parseSpec(spec)
	if err != nil {
		return Config{}, err
	}
	if src.scheme == schemePreloaded {
		if _, ok := s.preloaded[src.name]; !ok {
			return Config{}, &FetchError{URI: spec.URI, Reason: fmt.Sprintf("no preloaded rootfs named %q", src.name)}
		}
		return Config{}, nil
	}
	img, err := s.fetchImage(ctx, spec, src)
	if err != nil {
		return Config{}, err
	}
	cf, err := s.configFile(spec.URI, src, img)
	if err != nil {
		return Config{}, err
	}
	return configFrom(cf), nil
}

// configFile returns img's config file, from memory when its digest is known.
// The content is checked against the digest before it is remembered, so one
// bad source cannot poison the cache for others.
func (s *Store) configFile(uri string, src source, img v1.Image) (*v1.ConfigFile, error) {
	digest, err := configDigest(src, img)
	if err != nil {
		return nil, &FetchError{URI: uri, Reason: "reading image manifest", Err: err}
	}
	s.configsMu.Lock()
	cf, ok := s.configs[digest]
	s.configsMu.Unlock()
	if ok {
		return cf, nil
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, &FetchError{URI: uri, Reason: "reading image config", Err: err}
	}
	if got, _, err := v1.SHA256(bytes.NewReader(raw)); err != nil || got != digest {
		return nil, &FetchError{URI: uri, Reason: fmt.Sprintf("image config digest mismatch: content is %s, manifest says %s", got, digest)}
	}
	cf, err = v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, &FetchError{URI: uri, Reason: "parsing image config", Err: err}
	}
	s.configsMu.Lock()
	s.configs[digest] = cf
	s.configsMu.Unlock()
	return cf, nil
}

// configDigest names img's config. A registry image's manifest, fetched
// already, names it; img.ConfigName would fetch the config to hash it, a
// round trip to the registry for every container. An archive's manifest is
// computed by compressing its layers, so elsewhere the config is hashed.
func configDigest(src source, img v1.Image) (v1.Hash, error) {
	if src.scheme != schemeDocker {
		return img.ConfigName()
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	return m.Config.Digest, nil
}

func parseSpec(spec Spec) (source, error) {
	if (spec.Username == "") != (spec.Password == "") {
		return source{}, badURI(spec.URI, "registry username and password must be given together")
	}
	return parseURI(spec.URI)
}

// Destroy unmounts handle's rootfs and removes its directories. Destroying a
// handle that does not exist is not an error.
func (s *Store) Destroy(logger lager.Logger, handle string) error {
	if err := validHandle(handle); err != nil {
		return err
	}
	logger = logger.Session("destroy-rootfs", lager.Data{"handle": handle})
	if err := s.removeContainer(s.paths(handle)); err != nil {
		logger.Error("failed", err)
		return fmt.Errorf("destroying rootfs of %s: %w", handle, err)
	}
	s.cache.releaseContainer(handle)
	s.cache.evict(logger)
	logger.Info("destroyed")
	return nil
}

// removeContainer detaches everything mounted under a container's
// directory (its disk, its rootfs, and anything a runtime left mounted
// inside it), then deletes the directory. The detached file systems are torn
// down in the background (diskpool.go).
func (s *Store) removeContainer(p containerPaths) error {
	mounts, err := mountsUnder(p.dir)
	if err != nil {
		return err
	}
	if err := s.diskPool.detachAll(mounts); err != nil {
		return err
	}
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("removing %s: %w", p.dir, err)
	}
	return nil
}

// Cleanup removes what a crash left behind: every container's mounts and
// directories, and any half-written layer. Call it once at garden start,
// before any Create; completed layers stay cached.
func (s *Store) Cleanup(logger lager.Logger) error {
	logger = logger.Session("cleanup")
	s.diskPool.drain(false)
	var errs []error
	if err := s.disks.removeStale(); err != nil {
		errs = append(errs, fmt.Errorf("removing stale disk files: %w", err))
	}
	mounts, err := mountsUnder(s.containersDir)
	if err != nil {
		return fmt.Errorf("listing mounts: %w", err)
	}
	for _, m := range mounts {
		logger.Info("unmounting", lager.Data{"path": m})
		if err := unmount(m); err != nil {
			errs = append(errs, err)
		}
	}
	entries, err := os.ReadDir(s.containersDir)
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	for _, e := range entries {
		logger.Info("removing-container-dir", lager.Data{"handle": e.Name()})
		if err := os.RemoveAll(filepath.Join(s.containersDir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		s.cache.releaseContainer(e.Name())
	}
	if err := s.removeStale(logger); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning up image store: %w", err)
	}
	return nil
}

// WaitIdle returns once no container file system is being formatted for the
// pool or released after a destroy in the background.
func (s *Store) WaitIdle() { s.diskPool.wait() }

// Close releases the file systems the store keeps ready and waits until they
// and those of destroyed containers are gone; the store formats no more
// ahead of creates afterwards. Containers' own file systems stay mounted for
// Cleanup. Call it when garden stops.
func (s *Store) Close() { s.diskPool.drain(true) }

// DiskUsage is the space used by what handle's container has written (its
// overlay upper dir), in bytes of allocated blocks; hard links count once.
func (s *Store) DiskUsage(handle string) (uint64, error) {
	if err := validHandle(handle); err != nil {
		return 0, err
	}
	total, err := allocatedBytes(s.paths(handle).upper)
	if err != nil {
		return 0, fmt.Errorf("disk usage of %s: %w", handle, err)
	}
	return total, nil
}

// Collectors are the store's Prometheus series: the layer cache's size in
// bytes and its evictions. Register them where the daemon exports metrics.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.cache.bytes, s.cache.evictions}
}
