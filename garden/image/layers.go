package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"code.cloudfoundry.org/lager/v3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Prefixes of entries in <Dir>/layers that are not image layers.
const (
	tmpPrefix       = "tmp-" // a layer being written; never used by a mount
	preloadedPrefix = "p-"   // a shifted copy of a preloaded rootfs
	emptyLayer      = "empty"
)

// unpackJobs bounds how many layers of one image are unpacked at once.
const unpackJobs = 3

// chainIDs computes each layer's chain ID: the first layer's is its diff ID,
// each later one is sha256 of "<parent chain ID> <diff ID>". A chain ID names a
// layer together with everything below it, which is what a cached lower dir
// depends on (its whiteouts only mean something on top of that stack).
func chainIDs(diffIDs []v1.Hash) []v1.Hash {
	ids := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			ids[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(ids[i-1].String() + " " + d.String()))
		ids[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return ids
}

// cacheName is the short directory name of a cached layer: overlay's option
// string is limited to a page, so lower dir paths must stay short.
func cacheName(key string, ids idShifter) string {
	sum := sha256.Sum256([]byte(key + "\n" + ids.key()))
	return hex.EncodeToString(sum[:8])
}

// imageLayers makes sure every layer of img is in the cache and returns the
// overlay lower dirs, top layer first.
func (s *Store) imageLayers(ctx context.Context, logger lager.Logger, held *hold, uri string, img v1.Image, cf *v1.ConfigFile, ids idShifter) ([]string, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, &FetchError{URI: uri, Reason: "reading image manifest", Err: err}
	}
	diffIDs := cf.RootFS.DiffIDs
	if len(diffIDs) != len(layers) {
		return nil, &FetchError{URI: uri, Reason: fmt.Sprintf("image config lists %d layers, manifest %d", len(diffIDs), len(layers))}
	}
	if len(layers) == 0 {
		return []string{filepath.Join(s.layersDir, emptyLayer)}, nil
	}

	chain := chainIDs(diffIDs)
	budget := newSizeBudget(s.maxImageBytes)
	dirs := make([]string, len(layers))
	group, _ := errgroup.WithContext(ctx)
	group.SetLimit(unpackJobs)
	for i := range layers {
		dir := filepath.Join(s.layersDir, cacheName(chain[i].String(), ids))
		dirs[len(layers)-1-i] = dir // overlay wants the top layer first
		group.Go(func() error {
			return s.ensureLayer(ctx, logger, held, dir, func(tmp string) error {
				return unpackVerified(uri, layers[i], diffIDs[i], tmp, ids, budget)
			})
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	return dirs, nil
}

// ensureLayer fills the cache entry dir using fill, at most once however many
// creates ask for it at the same time. fill writes into a temporary directory
// that is renamed into place only when complete, so a crash or a failure
// never leaves a half-written layer where a mount could use it.
//
// The flight runs with the context of the create that started it. If that
// create is cancelled, the others that joined the flight try again with their
// own, rather than fail for someone else's reason.
//
// held takes the layer before anything looks at the cache, so an eviction
// cannot delete it from under this create.
func (s *Store) ensureLayer(ctx context.Context, logger lager.Logger, held *hold, dir string, fill func(tmp string) error) error {
	held.add(dir)
	const attempts = 3
	for i := 1; ; i++ {
		err := s.fillOnce(logger, dir, fill)
		if err != nil && isCancellation(err) && ctx.Err() == nil && i < attempts {
			continue
		}
		if err != nil {
			return err
		}
		return s.cache.present(dir)
	}
}

func isCancellation(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (s *Store) fillOnce(logger lager.Logger, dir string, fill func(tmp string) error) error {
	if exists(dir) {
		return nil
	}
	_, err, _ := s.unpacks.Do(dir, func() (any, error) {
		if exists(dir) {
			return nil, nil // finished by a flight that ended just before ours began
		}
		logger := logger.Session("unpack-layer", lager.Data{"layer": filepath.Base(dir)})
		logger.Info("starting")
		tmp, err := os.MkdirTemp(s.layersDir, tmpPrefix+filepath.Base(dir)+"-")
		if err != nil {
			return nil, err
		}
		err = fill(tmp)
		if err == nil {
			// Durable before visible: after a power loss a cached layer must
			// be whole, since nothing checks it again.
			err = syncFS(tmp)
		}
		if err != nil {
			_ = os.RemoveAll(tmp)
			logger.Error("failed", err)
			return nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			_ = os.RemoveAll(tmp)
			if exists(dir) {
				return nil, nil
			}
			return nil, fmt.Errorf("publishing layer %s: %w", dir, err)
		}
		logger.Info("finished")
		return nil, nil
	})
	return err
}

// unpackVerified extracts a layer and checks its content against the diff ID
// in the image config, so a corrupt or substituted layer is refused whatever
// the source (registries also verify the compressed digest as it streams).
//
// Every layer's decompressed stream counts against budget, the create's cap.
func unpackVerified(uri string, layer v1.Layer, diffID v1.Hash, dir string, ids idShifter, budget *sizeBudget) error {
	digest, err := layer.Digest()
	if err != nil {
		return &FetchError{URI: uri, Reason: "reading layer digest", Err: err}
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		return &FetchError{URI: uri, Reason: fmt.Sprintf("opening layer %s", digest), Err: err}
	}
	defer rc.Close()

	hasher := sha256.New()
	stream := &recordingReader{r: io.TeeReader(budget.reader(rc), hasher)}
	err = unpackLayer(stream, dir, ids)
	if err == nil {
		// The tar ends before the stream does (padding); verification needs all of it.
		_, err = io.Copy(io.Discard, stream)
	}
	if stream.err != nil {
		reason := fmt.Sprintf("layer %s: digest mismatch or unreadable data", digest)
		if isCancellation(stream.err) {
			reason = fmt.Sprintf("layer %s: cancelled", digest)
		}
		if errors.Is(stream.err, ErrImageTooLarge) {
			reason = fmt.Sprintf("layer %s: %v", digest, stream.err)
		}
		return &FetchError{URI: uri, Reason: reason, Err: stream.err}
	}
	if err != nil {
		return fmt.Errorf("unpacking layer %s: %w", digest, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(hasher.Sum(nil))}
	if diffID.Algorithm == "sha256" && got != diffID {
		return &FetchError{URI: uri, Reason: fmt.Sprintf("layer %s: digest mismatch: content is %s, image config says %s", digest, got, diffID)}
	}
	return nil
}

// recordingReader remembers the first read error, which distinguishes a bad
// source (network, gzip, digest) from a failure to write the layer.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && r.err == nil {
		r.err = err
	}
	return n, err
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// removeStale deletes layers that were being written when garden stopped,
// and shifted copies of preloaded rootfses (their source may have changed).
func (s *Store) removeStale(logger lager.Logger) error {
	entries, err := os.ReadDir(s.layersDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) || strings.HasPrefix(name, preloadedPrefix) {
			logger.Info("removing-stale-layer", lager.Data{"dir": name})
			if err := os.RemoveAll(filepath.Join(s.layersDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// syncFS flushes the file system holding dir to disk.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
