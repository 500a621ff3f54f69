package downloadcache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"code.cloudfoundry.org/lager/v3"
)

// Cache keeps artifacts as files under Dir: complete entries in Dir/entries,
// named by the SHA-256 of their key, and fills in progress in Dir/tmp. Entries
// left by an earlier process are kept (oldest modification first in line for
// eviction); unfinished fills are removed.
type Cache struct {
	dir      string
	maxBytes int64
	logger   lager.Logger

	initOnce sync.Once
	initErr  error

	// mu guards everything below.
	mu      sync.Mutex
	entries map[string]*entry
	lru     *list.List // of *entry, most recently used at the front
	fills   map[string]*fill
	size    int64 // bytes of every file in entries, read or not
	fetches int   // fills started
}

type entry struct {
	name    string
	size    int64
	readers int
	elem    *list.Element
}

// fill is one fetch in flight; others wanting its key wait for done.
type fill struct {
	done chan struct{}
	err  error
}

// New returns a cache over dir holding at most maxBytes (> 0). Nothing touches
// the disk until the first Fetch.
func New(logger lager.Logger, dir string, maxBytes int64) *Cache {
	return &Cache{
		dir:      dir,
		maxBytes: maxBytes,
		logger:   logger.Session("download-cache", lager.Data{"dir": dir}),
		entries:  map[string]*entry{},
		lru:      list.New(),
		fills:    map[string]*fill{},
	}
}

// Fetch returns the artifact stored under key and its size. On a miss it calls
// fill with a file to write into; fill's error (a failed request, a checksum
// that does not match) leaves no entry behind and is returned. Several Fetches
// of one key at once share one fill; if that fill was cancelled by its own
// caller's context, a waiter tries again itself. The caller must Close the
// reader; until then the entry is not deleted.
func (c *Cache) Fetch(ctx context.Context, key string, fillFn func(w io.Writer) error) (io.ReadCloser, int64, error) {
	c.initOnce.Do(func() {
		if c.initErr = c.load(); c.initErr != nil {
			c.logger.Error("load-failed", c.initErr)
		}
	})
	if c.initErr != nil {
		return nil, 0, c.initErr
	}
	name := entryName(key)
	for {
		c.mu.Lock()
		if e, ok := c.entries[name]; ok {
			e.readers++
			c.lru.MoveToFront(e.elem)
			c.mu.Unlock()
			return c.open(e)
		}
		if f, ok := c.fills[name]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			}
			if f.err != nil && !cancelled(f.err) {
				return nil, 0, f.err
			}
			continue
		}
		f := &fill{done: make(chan struct{})}
		c.fills[name] = f
		c.fetches++
		c.mu.Unlock()

		size, err := c.download(name, fillFn)

		c.mu.Lock()
		delete(c.fills, name)
		f.err = err
		close(f.done)
		if err != nil {
			c.mu.Unlock()
			return nil, 0, err
		}
		e := c.add(name, size)
		e.readers++ // ours, before eviction can see it
		c.evict()
		c.mu.Unlock()
		return c.open(e)
	}
}

// Fetches is how many fills the cache has started since New.
func (c *Cache) Fetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

// Size is the bytes the cache holds on disk.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Contains says whether key has a complete entry.
func (c *Cache) Contains(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[entryName(key)]
	return ok
}

func entryName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (c *Cache) entriesDir() string { return filepath.Join(c.dir, "entries") }
func (c *Cache) tmpDir() string     { return filepath.Join(c.dir, "tmp") }

// load makes the directories, drops unfinished fills and indexes the entries
// an earlier process left.
func (c *Cache) load() error {
	if err := os.RemoveAll(c.tmpDir()); err != nil {
		return fmt.Errorf("download cache: clearing %s: %w", c.tmpDir(), err)
	}
	for _, d := range []string{c.entriesDir(), c.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("download cache: %w", err)
		}
	}
	dirents, err := os.ReadDir(c.entriesDir())
	if err != nil {
		return fmt.Errorf("download cache: %w", err)
	}
	type found struct {
		name string
		info os.FileInfo
	}
	var files []found
	for _, d := range dirents {
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		files = append(files, found{d.Name(), info})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].info.ModTime().Before(files[j].info.ModTime()) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		c.add(f.name, f.info.Size()) // the newest ends at the front
	}
	c.evict()
	c.logger.Info("loaded", lager.Data{"entries": len(c.entries), "bytes": c.size})
	return nil
}

// download fills a temporary file and moves it into place once complete.
func (c *Cache) download(name string, fillFn func(w io.Writer) error) (int64, error) {
	tmp, err := os.CreateTemp(c.tmpDir(), name+"-")
	if err != nil {
		return 0, fmt.Errorf("download cache: %w", err)
	}
	counted := &countingWriter{w: tmp}
	err = fillFn(counted)
	if closeErr := tmp.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("download cache: %w", closeErr)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(c.entriesDir(), name))
	}
	if err != nil {
		if rmErr := os.Remove(tmp.Name()); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			c.logger.Error("remove-failed-fill", rmErr, lager.Data{"path": tmp.Name()})
		}
		return 0, err
	}
	return counted.n, nil
}

// add indexes a complete entry as the most recently used. Call with mu held.
func (c *Cache) add(name string, size int64) *entry {
	e := &entry{name: name, size: size}
	e.elem = c.lru.PushFront(e)
	c.entries[name] = e
	c.size += size
	return e
}

// evict removes least recently used entries that nobody reads until the cache
// fits. Entries being read stay; the cache may exceed its bound until they are
// closed. Call with mu held.
func (c *Cache) evict() {
	for elem := c.lru.Back(); elem != nil && c.size > c.maxBytes; {
		e := elem.Value.(*entry)
		elem = elem.Prev()
		if e.readers > 0 {
			continue
		}
		c.lru.Remove(e.elem)
		delete(c.entries, e.name)
		c.size -= e.size
		c.logger.Debug("evicted", lager.Data{"entry": e.name, "bytes": e.size})
		if err := os.Remove(filepath.Join(c.entriesDir(), e.name)); err != nil {
			c.logger.Error("remove-evicted-failed", err, lager.Data{"entry": e.name})
		}
	}
}

// open opens an entry whose reader count the caller has already raised.
func (c *Cache) open(e *entry) (io.ReadCloser, int64, error) {
	f, err := os.Open(filepath.Join(c.entriesDir(), e.name))
	if err != nil {
		c.release(e)
		return nil, 0, fmt.Errorf("download cache: %w", err)
	}
	return &reader{File: f, cache: c, entry: e}, e.size, nil
}

func (c *Cache) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.readers--
	c.evict()
}

// reader is an open entry; Close lets the cache delete it again.
type reader struct {
	*os.File
	cache *Cache
	entry *entry
	once  sync.Once
}

func (r *reader) Close() error {
	err := r.File.Close()
	r.once.Do(func() { r.cache.release(r.entry) })
	return err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
