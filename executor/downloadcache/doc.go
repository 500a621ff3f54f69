// Package downloadcache is a cell's cache of downloaded artifacts, keyed by a
// download action's cache_key: a key is fetched once and later downloads of it
// are served from disk. The cache is bounded in bytes and evicts the least
// recently used entries; an entry being read is never deleted under its reader,
// and concurrent downloads of one key make one fetch.
package downloadcache
