package bbs

import (
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxCachedRecords bounds the record cache (about 500 bytes per actual LRP).
const maxCachedRecords = 200000

// recordCache remembers the last value and mod revision this process saw for
// hot records (actual LRPs and tasks), so that a compare-and-swap can usually
// skip its read: the write is guarded by the cached revision, and if another
// writer moved the record the guard fails and the transaction's else branch
// returns the current value. A stale entry can therefore only cost a retry,
// never a wrong write; and casLoop confirms every refusal with a fresh read.
type recordCache struct {
	mu      sync.Mutex
	entries map[string]cachedRecord
}

type cachedRecord struct {
	value []byte
	rev   int64
	lease int64
}

func newRecordCache() *recordCache {
	return &recordCache{entries: map[string]cachedRecord{}}
}

// cacheable says whether key is worth caching.
func cacheable(key string) bool {
	return strings.HasPrefix(key, actualPrefix) || strings.HasPrefix(key, taskPrefix)
}

func (c *recordCache) get(key string) (cachedRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.entries[key]
	return r, ok
}

// put records a value seen at rev, unless a newer one is already known.
func (c *recordCache) put(key string, value []byte, rev, lease int64) {
	if !cacheable(key) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok && old.rev > rev {
		return
	}
	if len(c.entries) >= maxCachedRecords {
		// Drop about half, in map order: cheap, and any entry may go.
		n := 0
		for k := range c.entries {
			delete(c.entries, k)
			if n++; n >= maxCachedRecords/2 {
				break
			}
		}
	}
	c.entries[key] = cachedRecord{value: value, rev: rev, lease: lease}
}

func (c *recordCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// committed updates the cache after a transaction: the writes of a successful
// one are the records' new versions at the transaction's revision; a failed
// one tells nothing about its writes, but its else branch read the current
// versions of the compared keys.
func (c *recordCache) committed(resp *clientv3.TxnResponse, ops []clientv3.Op, elseKeys []string) {
	if resp.Succeeded {
		for _, op := range ops {
			key := string(op.KeyBytes())
			switch {
			case op.IsPut():
				c.put(key, op.ValueBytes(), resp.Header.Revision, 0)
			case op.IsDelete():
				c.forget(key)
			}
		}
		return
	}
	for i, r := range resp.Responses {
		if i >= len(elseKeys) {
			break
		}
		kvs := r.GetResponseRange().Kvs
		if len(kvs) == 0 {
			c.forget(elseKeys[i])
			continue
		}
		c.put(elseKeys[i], kvs[0].Value, kvs[0].ModRevision, kvs[0].Lease)
	}
}
