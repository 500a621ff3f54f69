package bbs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/bbs/encryption"
	"github.com/diego-runtime/diego/models"
)

var _ client.API = (*DB)(nil)

// Defaults for Options.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultCallTimeout    = 5 * time.Second
	// casAttempts bounds the re-read-and-retry loop of one operation before it
	// answers models.ErrResourceConflict.
	casAttempts = 8
	// batchSize keeps every transaction within etcd's default 128 operations
	// (one compare and one write per record, plus a guard).
	batchSize = 60
)

// Auctioneer places work. *auctioneerapi.Client implements it.
type Auctioneer interface {
	RequestLRPAuctions(ctx context.Context, reqs []*models.LRPStartRequest) error
	RequestTaskAuctions(ctx context.Context, reqs []*models.TaskStartRequest) error
}

// RepClient is the part of a rep the BBS calls. *repapi.Client implements it.
type RepClient interface {
	StopLRPInstance(ctx context.Context, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	CancelTask(ctx context.Context, taskGuid string) error
}

// RepClientFactory returns a client for the rep of a present cell.
type RepClientFactory interface {
	RepClient(cell *models.CellPresence) (RepClient, error)
}

// Options configure a DB. Client is required; nil Auctioneer or RepClients mean
// "nobody to call" (the call is logged and skipped).
type Options struct {
	Client     *clientv3.Client
	Logger     lager.Logger // default: a logger named "bbs" with no sinks
	Clock      clock.Clock  // default: the real clock
	Auctioneer Auctioneer
	RepClients RepClientFactory
	// RequestTimeout bounds every etcd request, so an unreachable etcd answers
	// models.ErrServiceUnavailable instead of hanging. Default 5 s.
	RequestTimeout time.Duration
	// CallTimeout bounds each call to the auctioneer or a rep. Default 5 s.
	CallTimeout time.Duration
	// NewGuid makes modification tag epochs; default random UUIDs.
	NewGuid func() string
	// MaxInstances bounds a desired LRP's instances (InvalidLRP above it), and
	// no index at or above it is ever created. Default models.DefaultMaxInstances.
	MaxInstances int
	// AllowPrivileged lets LRPs and tasks run privileged (container root is the
	// host's root). Default false: such requests are refused as InvalidLRP /
	// InvalidTask naming the field.
	AllowPrivileged bool
	// Keys seal every record written (AES-256-GCM under the active label) and
	// open records sealed under any of its labels. Nil writes plain JSON (tests
	// only: the bbs daemon requires keys). Plain records are read either way,
	// so a store can be moved to encryption with RewriteRecords.
	Keys *encryption.Keyring
}

// DB is the BBS's store over etcd. It holds no state of its own beyond its
// options: several DBs (in several BBS processes) may serve the same etcd.
type DB struct {
	kv         *clientv3.Client
	logger     lager.Logger
	clock      clock.Clock
	auctioneer Auctioneer
	reps       RepClientFactory
	timeout    time.Duration
	callTime   time.Duration
	newGuid    func() string
	cache      *recordCache
	keys       *encryption.Keyring
	policy     policy
}

// New returns a DB over opts.Client.
func New(opts Options) (*DB, error) {
	if opts.Client == nil {
		return nil, errors.New("bbs: an etcd client is required")
	}
	db := &DB{
		kv: opts.Client, logger: opts.Logger, clock: opts.Clock, auctioneer: opts.Auctioneer,
		reps: opts.RepClients, timeout: opts.RequestTimeout, callTime: opts.CallTimeout, newGuid: opts.NewGuid,
		cache: newRecordCache(), keys: opts.Keys,
		policy: policy{maxInstances: opts.MaxInstances, allowPrivileged: opts.AllowPrivileged},
	}
	if db.policy.maxInstances <= 0 {
		db.policy.maxInstances = models.DefaultMaxInstances
	}
	if db.logger == nil {
		db.logger = lager.NewLogger("bbs")
	}
	if db.clock == nil {
		db.clock = clock.NewClock()
	}
	if db.timeout <= 0 {
		db.timeout = DefaultRequestTimeout
	}
	if db.callTime <= 0 {
		db.callTime = DefaultCallTimeout
	}
	if db.newGuid == nil {
		db.newGuid = func() string { return uuid.NewString() }
	}
	return db, nil
}

// now is the clock's time in unix nanoseconds, the unit of every timestamp.
func (db *DB) now() int64 { return db.clock.Now().UnixNano() }

// reqCtx bounds one etcd request.
func (db *DB) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.timeout)
}

// storeErr turns an etcd failure into a wire error. Typed errors pass through;
// a caller that gave up gets its own context error back; anything else means
// etcd could not answer in time, i.e. the store is unavailable.
func storeErr(parent context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var typed *models.Error
	if errors.As(err, &typed) {
		return err
	}
	if parent.Err() != nil {
		return fmt.Errorf("%s: %w", op, parent.Err())
	}
	if errors.Is(err, rpctypes.ErrNoSpace) {
		return models.ErrServiceUnavailable.WithMessage("%s: etcd is out of space (NOSPACE alarm); writes resume once the BBS has compacted, defragmented and disarmed it: %v", op, err)
	}
	return models.ErrServiceUnavailable.WithMessage("%s: %v", op, err)
}

// Ping answers nil when etcd answers a read within the request timeout.
func (db *DB) Ping(ctx context.Context) error {
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	_, err := db.kv.Get(rctx, versionKey)
	return storeErr(ctx, "ping", err)
}

// versioned is a decoded record and the mod revision it was read at (0: absent).
type versioned[T any] struct {
	value *T
	rev   int64
	lease int64
}

func (v versioned[T]) exists() bool { return v.rev != 0 }

// cmp is the guard that the record is still what was read: same mod revision,
// or still absent.
func (v versioned[T]) cmp(key string) clientv3.Cmp {
	if v.rev == 0 {
		return clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	}
	return clientv3.Compare(clientv3.ModRevision(key), "=", v.rev)
}

// storedActualLRP has ActualLRP's fields without its JSON methods: decoding it
// directly skips the second parse that ActualLRP.UnmarshalJSON costs, which
// is most of a full fetch's CPU time.
type storedActualLRP models.ActualLRP

// unmarshalRecord decodes one stored record, read at key, into v.
func (db *DB) unmarshalRecord(key string, data []byte, v any) error {
	data, err := db.open(key, data)
	if err != nil {
		return err
	}
	if lrp, ok := v.(*models.ActualLRP); ok {
		if err := json.Unmarshal(data, (*storedActualLRP)(lrp)); err != nil {
			return err
		}
		if len(lrp.Ports) == 0 {
			lrp.Ports = nil // as ActualLRP.UnmarshalJSON does
		}
		return nil
	}
	return json.Unmarshal(data, v)
}

func decodeKV[T any](db *DB, key string, value []byte, rev, lease int64) (versioned[T], error) {
	var t T
	if err := db.unmarshalRecord(key, value, &t); err != nil {
		return versioned[T]{}, fmt.Errorf("decoding %s: %w", key, err)
	}
	return versioned[T]{value: &t, rev: rev, lease: lease}, nil
}

// get reads one record; absent is not an error (rev 0). Under a first
// attempt of casLoop it may answer from the record cache.
func get[T any](ctx context.Context, db *DB, key string) (versioned[T], error) {
	if ctx.Value(serializableReads{}) != nil {
		if r, ok := db.cache.get(key); ok {
			return decodeKV[T](db, key, r.value, r.rev, r.lease)
		}
	}
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	resp, err := db.kv.Get(rctx, key, readOpts(ctx)...)
	if err != nil {
		return versioned[T]{}, storeErr(ctx, "reading "+key, err)
	}
	if len(resp.Kvs) == 0 {
		db.cache.forget(key)
		return versioned[T]{}, nil
	}
	kv := resp.Kvs[0]
	db.cache.put(key, kv.Value, kv.ModRevision, kv.Lease)
	return decodeKV[T](db, key, kv.Value, kv.ModRevision, kv.Lease)
}

// commit runs one transaction and reports whether its guards held.
func (db *DB) commit(ctx context.Context, op string, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, error) {
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	// On a lost race, read back the cached keys that were compared, so the
	// retry starts from their current versions without another round trip.
	var elseKeys []string
	var elseOps []clientv3.Op
	for _, c := range cmps {
		if k := string(c.KeyBytes()); cacheable(k) && len(elseOps) < batchSize {
			elseKeys = append(elseKeys, k)
			elseOps = append(elseOps, clientv3.OpGet(k))
		}
	}
	resp, err := db.kv.Txn(rctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	if err != nil {
		return false, storeErr(ctx, op, err)
	}
	db.cache.committed(resp, ops, elseKeys)
	return resp.Succeeded, nil
}

// put encodes (and seals) v for a Put op.
func (db *DB) put(key string, v any, opts ...clientv3.OpOption) clientv3.Op {
	return clientv3.OpPut(key, db.encode(key, v), opts...)
}

// mustJSON encodes a stored record. Every stored type is plain data, so a
// failure is a programming error.
func mustJSON(v any) []byte {
	if lrp, ok := v.(*models.ActualLRP); ok {
		v = (*storedActualLRP)(lrp) // skips ActualLRP.MarshalJSON's second encoding
	}
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bbs: encoding %T: %v", v, err))
	}
	return data
}

// casLoop runs attempt until it commits or decides there is nothing to write.
// attempt reads what it needs through the context it is given and returns the
// guarded writes (nil ops: done). A lost race re-runs attempt, which re-checks
// its guard on fresh records.
//
// The first attempt reads serializably (no round of consensus before the
// read): a stale read can only make the guarded write fail, never succeed
// wrongly. Any answer other than a successful write (a refusal, or nothing to
// do) is confirmed by a linearizable attempt before it is returned.
func (db *DB) casLoop(ctx context.Context, op string, attempt func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error)) error {
	fast := true // reads may come from the cache or the local member
	for i := 0; i < casAttempts; i++ {
		actx := ctx
		if fast {
			actx = context.WithValue(ctx, serializableReads{}, true)
		}
		cmps, ops, err := attempt(actx)
		if err != nil || len(ops) == 0 {
			if !fast || errors.Is(err, models.ErrServiceUnavailable) || ctx.Err() != nil {
				return err
			}
			fast = false // confirm a refusal (or "nothing to do") on fresh reads
			continue
		}
		ok, err := db.commit(ctx, op, cmps, ops)
		if err != nil || ok {
			return err
		}
		fast = true // the failed transaction refreshed the cache
	}
	return models.ErrResourceConflict.WithMessage("%s: lost %d races in a row", op, casAttempts)
}

// serializableReads marks a context whose reads may be served from the local
// member without consensus (see casLoop).
type serializableReads struct{}

// readOpts are the options of a read made under ctx.
func readOpts(ctx context.Context, opts ...clientv3.OpOption) []clientv3.OpOption {
	if ctx.Value(serializableReads{}) != nil {
		opts = append(opts, clientv3.WithSerializable())
	}
	return opts
}

// call bounds one call to a neighbour (auctioneer, rep).
func (db *DB) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), db.callTime)
}

// requestLRPAuctions asks the auctioneer to place the requests. A failure is
// logged, not returned: the records stay UNCLAIMED and the converger asks again.
func (db *DB) requestLRPAuctions(ctx context.Context, logger lager.Logger, reqs []*models.LRPStartRequest) {
	if len(reqs) == 0 {
		return
	}
	if db.auctioneer == nil {
		logger.Info("no-auctioneer", lager.Data{"lrp-requests": len(reqs)})
		return
	}
	cctx, cancel := db.callCtx(ctx)
	defer cancel()
	if err := db.auctioneer.RequestLRPAuctions(cctx, reqs); err != nil {
		logger.Error("requesting-lrp-auctions-failed", err, lager.Data{"requests": len(reqs)})
	}
}

// requestTaskAuctions is requestLRPAuctions for tasks.
func (db *DB) requestTaskAuctions(ctx context.Context, logger lager.Logger, reqs []*models.TaskStartRequest) {
	if len(reqs) == 0 {
		return
	}
	if db.auctioneer == nil {
		logger.Info("no-auctioneer", lager.Data{"task-requests": len(reqs)})
		return
	}
	cctx, cancel := db.callCtx(ctx)
	defer cancel()
	if err := db.auctioneer.RequestTaskAuctions(cctx, reqs); err != nil {
		logger.Error("requesting-task-auctions-failed", err, lager.Data{"requests": len(reqs)})
	}
}

// repFor returns the rep client of a present cell, or nil when the cell is gone.
func (db *DB) repFor(ctx context.Context, cellID string) (RepClient, error) {
	cell, err := get[models.CellPresence](ctx, db, cellKey(cellID))
	if err != nil || !cell.exists() {
		return nil, err
	}
	if db.reps == nil {
		return nil, fmt.Errorf("no rep client factory configured to reach cell %s", cellID)
	}
	return db.reps.RepClient(cell.value)
}
