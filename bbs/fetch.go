package bbs

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// pageSize is how many records one range request returns. Large pages keep the
// number of round trips down; 10,000 records of ~1 KiB stay well inside the
// gRPC message limit the client sets.
const pageSize = 10000

// listPrefix reads every record under prefix as one consistent snapshot (all
// pages at the revision of the first) and decodes them, in key order, on several
// cores while the next page is fetched. keep filters decoded records (nil: all).
func listPrefix[T any](ctx context.Context, db *DB, prefix string, keep func(*T) bool) ([]*T, error) {
	var (
		pages   []*[]*T // one per decoded chunk; each written only by its worker
		wg      sync.WaitGroup
		mu      sync.Mutex
		decErr  error
		rev     int64
		key     = prefix
		end     = clientv3.GetPrefixRangeEnd(prefix)
		workers = runtime.GOMAXPROCS(0)
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		rctx, cancel := db.reqCtx(ctx)
		resp, err := db.kv.Get(rctx, key, opts...)
		cancel()
		if err != nil {
			wg.Wait()
			return nil, storeErr(ctx, "listing "+prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		kvs := resp.Kvs
		if len(kvs) == 0 {
			break
		}
		// Decode this page in chunks, one slot per chunk, so order is kept.
		chunk := (len(kvs) + workers - 1) / workers
		for start := 0; start < len(kvs); start += chunk {
			part := kvs[start:min(start+chunk, len(kvs))]
			page := new([]*T)
			pages = append(pages, page)
			wg.Add(1)
			go func(part []*mvccpb.KeyValue) {
				defer wg.Done()
				out := make([]*T, 0, len(part))
				slab := make([]T, len(part)) // one allocation for the chunk's records
				for i, kv := range part {
					t := &slab[i]
					if err := db.unmarshalRecord(string(kv.Key), kv.Value, t); err != nil {
						mu.Lock()
						decErr = fmt.Errorf("decoding %s: %w", kv.Key, err)
						mu.Unlock()
						return
					}
					if keep == nil || keep(t) {
						out = append(out, t)
					}
				}
				*page = out
			}(part)
		}
		if !resp.More {
			break
		}
		key = string(kvs[len(kvs)-1].Key) + "\x00"
	}
	wg.Wait()
	if decErr != nil {
		return nil, decErr
	}
	n := 0
	for _, p := range pages {
		n += len(*p)
	}
	all := make([]*T, 0, n)
	for _, p := range pages {
		all = append(all, *p...)
	}
	return all, nil
}

// listVersioned reads every record under prefix with its revision, for the
// read-modify-write paths (small prefixes: one process's indices).
func listVersioned[T any](ctx context.Context, db *DB, prefix string) (map[string]versioned[T], int64, error) {
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	resp, err := db.kv.Get(rctx, prefix, readOpts(ctx, clientv3.WithPrefix())...)
	if err != nil {
		return nil, 0, storeErr(ctx, "listing "+prefix, err)
	}
	out := make(map[string]versioned[T], len(resp.Kvs))
	for _, kv := range resp.Kvs {
		v, err := decodeKV[T](db, string(kv.Key), kv.Value, kv.ModRevision, kv.Lease)
		if err != nil {
			return nil, 0, err
		}
		out[string(kv.Key)] = v
	}
	return out, resp.Header.Revision, nil
}

// getEach reads the records of the named guids (missing ones are skipped), a
// batch of reads per transaction, in the order given.
func getEach[T any](ctx context.Context, db *DB, guids []string, keyOf func(string) string, keep func(*T) bool) ([]*T, error) {
	seen := make(map[string]bool, len(guids))
	var out []*T
	for start := 0; start < len(guids); start += batchSize {
		var ops []clientv3.Op
		for _, g := range guids[start:min(start+batchSize, len(guids))] {
			if !seen[g] {
				seen[g] = true
				ops = append(ops, clientv3.OpGet(keyOf(g)))
			}
		}
		rctx, cancel := db.reqCtx(ctx)
		resp, err := db.kv.Txn(rctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, storeErr(ctx, "reading records", err)
		}
		for _, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().Kvs {
				v, err := decodeKV[T](db, string(kv.Key), kv.Value, kv.ModRevision, kv.Lease)
				if err != nil {
					return nil, err
				}
				if keep == nil || keep(v.value) {
					out = append(out, v.value)
				}
			}
		}
	}
	if out == nil {
		out = []*T{}
	}
	return out, nil
}
