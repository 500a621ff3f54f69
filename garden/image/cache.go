package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultLayerCacheMaxBytes is StoreConfig.LayerCacheMaxBytes when it is 0.
const DefaultLayerCacheMaxBytes = 20 << 30

// evictPrefix names a layer being deleted by eviction: out of the cache's
// namespace at once (a rename), removed after; Cleanup removes any left.
const evictPrefix = tmpPrefix + "evict-"

// layerCache keeps the layer cache under its size limit by deleting the least
// recently used layers that nothing holds. A layer is held from the moment a
// create first asks for it (before it checks whether the layer exists, so an
// eviction cannot pull it away from a pull in flight) until that create fails
// or its container is destroyed.
//
// Its one lock guards the maps and the total; no file system work happens
// under it except the rename that takes an evicted layer out of the cache.
type layerCache struct {
	dir string // <Dir>/layers
	max int64

	mu     sync.Mutex
	layers map[string]*cachedLayer // by directory name
	held   map[string][]string     // container handle -> layers its rootfs uses
	total  int64                   // bytes of the layers whose size is known
	tick   uint64                  // LRU clock: higher is more recent

	bytes     prometheus.GaugeFunc
	evictions prometheus.Counter
}

type cachedLayer struct {
	size     int64 // allocated bytes; -1 until the layer is on disk and measured
	lastUsed uint64
	holds    int
}

func newLayerCache(dir string, max int64) *layerCache {
	c := &layerCache{dir: dir, max: max, layers: map[string]*cachedLayer{}, held: map[string][]string{}}
	c.bytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "garden_image_layer_cache_bytes",
		Help: "Bytes allocated by the image layers cached on this garden.",
	}, func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return float64(c.total)
	})
	c.evictions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "garden_image_layer_evictions_total",
		Help: "Image layers deleted from the cache, least recently used first, to keep it under layer_cache_max_bytes.",
	})
	return c
}

// load measures the layers already on disk; their modification times (set
// on every use) order them.
func (c *layerCache) load(logger lager.Logger) error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("reading layer cache: %w", err)
	}
	type found struct {
		name string
		mod  time.Time
		size int64
	}
	var all []found
	for _, e := range entries {
		name := e.Name()
		if name == emptyLayer || strings.HasPrefix(name, tmpPrefix) || strings.HasPrefix(name, preloadedPrefix) || !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			logger.Error("measuring-layer-failed", err, lager.Data{"layer": name})
			continue
		}
		size, err := allocatedBytes(filepath.Join(c.dir, name))
		if err != nil {
			logger.Error("measuring-layer-failed", err, lager.Data{"layer": name})
			continue
		}
		all = append(all, found{name, info.ModTime(), int64(size)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.Before(all[j].mod) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range all {
		c.tick++
		c.layers[f.name] = &cachedLayer{size: f.size, lastUsed: c.tick}
		c.total += f.size
	}
	logger.Info("layer-cache-loaded", lager.Data{"layers": len(all), "bytes": c.total, "max_bytes": c.max})
	return nil
}

// hold is the set of cached layers one create has asked for.
type hold struct {
	cache *layerCache
	mu    sync.Mutex // imageLayers asks from several goroutines
	names []string
}

func (c *layerCache) newHold() *hold { return &hold{cache: c} }

// add holds the cache entry at dir (a no-op for directories outside the
// cache, like a preloaded rootfs used as is) and marks it used now.
func (h *hold) add(dir string) {
	if filepath.Dir(dir) != h.cache.dir {
		return
	}
	name := filepath.Base(dir)
	c := h.cache
	c.mu.Lock()
	l, ok := c.layers[name]
	if !ok {
		l = &cachedLayer{size: -1}
		c.layers[name] = l
	}
	l.holds++
	c.tick++
	l.lastUsed = c.tick
	c.mu.Unlock()
	h.mu.Lock()
	h.names = append(h.names, name)
	h.mu.Unlock()
}

// release gives up every layer the hold has.
func (h *hold) release() {
	h.mu.Lock()
	names := h.names
	h.names = nil
	h.mu.Unlock()
	h.cache.unhold(names)
}

func (c *layerCache) unhold(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range names {
		l, ok := c.layers[name]
		if !ok {
			continue
		}
		l.holds--
		if l.holds <= 0 && l.size < 0 {
			delete(c.layers, name) // asked for, never written
		}
	}
}

// keep hands a successful create's hold to its container until release.
func (c *layerCache) keep(handle string, h *hold) {
	h.mu.Lock()
	names := h.names
	h.names = nil
	h.mu.Unlock()
	c.mu.Lock()
	c.held[handle] = append(c.held[handle], names...)
	c.mu.Unlock()
}

// releaseContainer gives up what handle's rootfs held.
func (c *layerCache) releaseContainer(handle string) {
	c.mu.Lock()
	names := c.held[handle]
	delete(c.held, handle)
	c.mu.Unlock()
	c.unhold(names)
}

// present records that a held layer is on disk, measuring it the first time.
func (c *layerCache) present(dir string) error {
	if filepath.Dir(dir) != c.dir {
		return nil
	}
	name := filepath.Base(dir)
	c.mu.Lock()
	l, ok := c.layers[name]
	known := ok && l.size >= 0
	c.mu.Unlock()
	// Refresh the time order that survives a restart (see load).
	now := time.Now()
	if err := os.Chtimes(dir, now, now); err != nil {
		return fmt.Errorf("marking layer %s used: %w", name, err)
	}
	if known || !ok {
		return nil
	}
	size, err := allocatedBytes(dir)
	if err != nil {
		return fmt.Errorf("measuring layer %s: %w", name, err)
	}
	c.mu.Lock()
	if l.size < 0 {
		l.size = int64(size)
		c.total += l.size
	}
	c.mu.Unlock()
	return nil
}

// evict deletes the least recently used layers that nothing holds until the
// cache is within its limit, or nothing more may go.
func (c *layerCache) evict(logger lager.Logger) {
	c.mu.Lock()
	if c.total <= c.max {
		c.mu.Unlock()
		return
	}
	var idle []string
	for name, l := range c.layers {
		if l.holds == 0 && l.size >= 0 {
			idle = append(idle, name)
		}
	}
	sort.Slice(idle, func(i, j int) bool { return c.layers[idle[i]].lastUsed < c.layers[idle[j]].lastUsed })
	var doomed []string
	for _, name := range idle {
		if c.total <= c.max {
			break
		}
		gone := filepath.Join(c.dir, evictPrefix+name)
		if err := os.Rename(filepath.Join(c.dir, name), gone); err != nil && !errors.Is(err, fs.ErrNotExist) {
			logger.Error("evicting-layer-failed", err, lager.Data{"layer": name})
			continue
		}
		c.total -= c.layers[name].size
		logger.Info("evicting-layer", lager.Data{"layer": name, "bytes": c.layers[name].size})
		delete(c.layers, name)
		c.evictions.Inc()
		doomed = append(doomed, gone)
	}
	total := c.total
	c.mu.Unlock()

	for _, d := range doomed {
		if err := os.RemoveAll(d); err != nil {
			logger.Error("removing-evicted-layer-failed", err, lager.Data{"dir": d})
		}
	}
	if total > c.max {
		logger.Info("layer-cache-over-limit", lager.Data{"bytes": total, "max_bytes": c.max, "reason": "every remaining layer is in use"})
	}
}

// allocatedBytes is the space the tree at dir takes, in allocated blocks;
// hard links count once.
func allocatedBytes(dir string) (uint64, error) {
	seen := map[uint64]bool{}
	var total uint64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil // removed while we walked
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok || seen[st.Ino] {
			return nil
		}
		if st.Nlink > 1 {
			seen[st.Ino] = true
		}
		total += uint64(st.Blocks) * 512
		return nil
	})
	return total, err
}
