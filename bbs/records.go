package bbs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/encryption"
)

// encode is the stored form of record v at key: its JSON, sealed under the
// active key when the DB has a keyring. The etcd key is the seal's associated
// data, so a sealed record moved to another key does not open.
func (db *DB) encode(key string, v any) string {
	data := mustJSON(v)
	if db.keys == nil {
		return string(data)
	}
	return string(db.keys.Seal([]byte(key), data))
}

// open returns the JSON of a stored value read at key. Plain JSON (written
// before encryption was turned on) is returned as it is, so an existing store
// stays readable until RewriteRecords seals it.
func (db *DB) open(key string, data []byte) ([]byte, error) {
	if !encryption.IsSealed(data) {
		return data, nil
	}
	if db.keys == nil {
		return nil, fmt.Errorf("record %s is encrypted (key label %q) and this BBS has no encryption keys", key, encryption.Label(data))
	}
	return db.keys.Open([]byte(key), data)
}

// samePlaintext reports whether two stored values of key hold the same record.
func (db *DB) samePlaintext(key string, a, b []byte) (bool, error) {
	if bytes.Equal(a, b) {
		return true, nil
	}
	if !encryption.IsSealed(a) && !encryption.IsSealed(b) {
		return false, nil
	}
	pa, err := db.open(key, a)
	if err != nil {
		return false, err
	}
	pb, err := db.open(key, b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(pa, pb), nil
}

// recordPrefixes are the prefixes whose values are records (everything the
// BBS writes under rootPrefix but the layout metadata).
var recordPrefixes = []string{desiredPrefix, actualPrefix, taskPrefix, cellPrefix, domainPrefix}

// RewriteStats counts what RewriteRecords did.
type RewriteStats struct {
	Rewritten int // records sealed again under the active key
	Current   int // records already under the active key
}

// RewriteRecords seals every record that is plain JSON or sealed under a key
// other than the active one again under the active key, each write guarded by
// the record's mod revision and keeping its lease (a record changed meanwhile
// is already under the active key, as every write is). The rewrite changes no
// record's content, so it makes no event. Run at start and after adding a key.
func (db *DB) RewriteRecords(ctx context.Context, logger lager.Logger) (RewriteStats, error) {
	logger = logger.Session("rewrite-records")
	var stats RewriteStats
	if db.keys == nil {
		return stats, fmt.Errorf("rewriting records: this BBS has no encryption keys")
	}
	active := db.keys.Active()
	for _, prefix := range recordPrefixes {
		from, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
		for {
			rctx, cancel := db.reqCtx(ctx)
			resp, err := db.kv.Get(rctx, from, clientv3.WithRange(end), clientv3.WithLimit(batchSize))
			cancel()
			if err != nil {
				return stats, storeErr(ctx, "listing "+prefix, err)
			}
			for _, kv := range resp.Kvs {
				key := string(kv.Key)
				if encryption.Label(kv.Value) == active {
					stats.Current++
					continue
				}
				plain, err := db.open(key, kv.Value)
				if err != nil {
					return stats, fmt.Errorf("rewriting %s: %w", key, err)
				}
				var opts []clientv3.OpOption
				if kv.Lease != 0 {
					opts = append(opts, clientv3.WithLease(clientv3.LeaseID(kv.Lease)))
				}
				rctx, cancel := db.reqCtx(ctx)
				_, err = db.kv.Txn(rctx).
					If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
					Then(clientv3.OpPut(key, string(db.keys.Seal(kv.Key, plain)), opts...)).
					Commit()
				cancel()
				if err != nil {
					return stats, storeErr(ctx, "rewriting "+key, err)
				}
				db.cache.forget(key)
				stats.Rewritten++
			}
			if !resp.More || len(resp.Kvs) == 0 {
				break
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
	logger.Info("done", lager.Data{"rewritten": stats.Rewritten, "current": stats.Current, "active-key": active})
	return stats, nil
}

// rewriteRetry is how long the rewriter waits after a failed pass.
const rewriteRetry = 5 * time.Second

// RecordRewriter is an ifrit runner that runs RewriteRecords once at start,
// again every few seconds until a pass succeeds (etcd may not answer yet),
// and then waits for a signal. Several BBSs may rewrite at once: every write
// is guarded by the record's revision. When a pass rewrote records, the old
// values (plaintext, or sealed under a retired key) are still in etcd's
// history: the purger, when there is one, removes them.
type RecordRewriter struct {
	db     *DB
	purger Purger
	logger lager.Logger
	clock  clock.Clock
}

// Purger removes superseded values from the store's history and files
// (maintain.Maintainer).
type Purger interface {
	Purge(ctx context.Context, logger lager.Logger) error
}

// NewRecordRewriter returns the runner for db; purger may be nil.
func NewRecordRewriter(db *DB, purger Purger, logger lager.Logger, clk clock.Clock) *RecordRewriter {
	return &RecordRewriter{db: db, purger: purger, logger: logger, clock: clk}
}

// Run implements ifrit.Runner.
func (r *RecordRewriter) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		purge := false // set once a pass rewrote records, until a purge succeeds
		for {
			err := r.pass(ctx, &purge)
			if err == nil || ctx.Err() != nil {
				return
			}
			r.logger.Error("rewrite-records-failed", err, lager.Data{"retry-in": rewriteRetry.String()})
			select {
			case <-r.clock.After(rewriteRetry):
			case <-ctx.Done():
				return
			}
		}
	}()
	<-signals
	cancel()
	<-done
	return nil
}

// pass rewrites, then purges if this or an earlier pass rewrote anything.
func (r *RecordRewriter) pass(ctx context.Context, purge *bool) error {
	stats, err := r.db.RewriteRecords(ctx, r.logger)
	if err != nil {
		return err
	}
	if stats.Rewritten > 0 {
		*purge = true
	}
	if !*purge || r.purger == nil {
		return nil
	}
	if err := r.purger.Purge(ctx, r.logger); err != nil {
		return fmt.Errorf("purging the records' old values from etcd: %w", err)
	}
	*purge = false
	return nil
}
