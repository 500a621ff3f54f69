package converger

import (
	"context"
	"os"
	"strings"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultCellsPrefix is where the BBS keeps cell presences in etcd, one key per
// cell bound to the cell's lease. It must match the BBS's layout (docs/bbs.md).
const DefaultCellsPrefix = "/diego/v1/cells/"

// CellWatch is the one place the converger reads etcd without the BBS: a
// read-only watch on the cell presence keys, so that a vanished cell (its lease
// expired or it deregistered) triggers a pass at once instead of at the next
// interval. The BBS contract has no cell event feed; the converger already holds
// an etcd client for its lock. It never writes and never reads records.
//
// The same watch on the desired LRPs' scheduling keys (NewDesiredWatch) starts
// a pass as soon as a desired LRP changes, so that a roll begins at once.
type CellWatch struct {
	Logger lager.Logger
	Clock  clock.Clock
	Client *clientv3.Client
	Prefix string              // default DefaultCellsPrefix
	OnGone func(cellID string) // called for every cell key deleted; may be nil
	// OnPut, when set, is called for every key written under the prefix
	// (with the prefix cut off); when nil, writes are not watched.
	OnPut func(name string)
}

// DefaultSchedulePrefix is where the BBS keeps the desired LRPs' scheduling
// infos, one key per process guid (docs/bbs.md).
const DefaultSchedulePrefix = "/diego/v1/desired/schedule/"

// NewDesiredWatch calls onChange whenever a desired LRP is written (desired or
// updated); its version may have changed.
func NewDesiredWatch(logger lager.Logger, clk clock.Clock, client *clientv3.Client, onChange func()) *CellWatch {
	return &CellWatch{Logger: logger.Session("desired"), Clock: clk, Client: client, Prefix: DefaultSchedulePrefix,
		OnPut: func(string) { onChange() }}
}

// Run implements ifrit.Runner. It reads the prefix's current revision before it
// is ready and watches from just after it; when etcd ends the watch (a restart, a lost
// leader) it watches again from just after the last event it delivered, so no
// deletion is missed and none is reported twice.
func (w *CellWatch) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := w.Logger.Session("cell-watch")
	prefix := w.Prefix
	if prefix == "" {
		prefix = DefaultCellsPrefix
	}
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	defer cancel()
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()

	// Ready only once the starting revision is known: every deletion after
	// ready is then delivered, which is what a caller starting us relies on.
	var rev int64 // every deletion up to rev has been delivered
	for rev == 0 {
		resp, err := w.Client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err == nil {
			rev = resp.Header.Revision
			break
		}
		logger.Error("reading-revision-failed", err)
		select {
		case <-ctx.Done():
			return nil
		case <-w.Clock.After(time.Second):
		}
	}
	close(ready)
	for ctx.Err() == nil {
		rev = w.watch(ctx, logger, prefix, rev)
		select {
		case <-ctx.Done():
		case <-w.Clock.After(time.Second):
		}
	}
	return nil
}

// watch delivers deletions after rev until the watch ends, and returns the
// revision up to which it delivered them.
func (w *CellWatch) watch(ctx context.Context, logger lager.Logger, prefix string, rev int64) int64 {
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(rev + 1)}
	if w.OnPut == nil {
		opts = append(opts, clientv3.WithFilterPut())
	}
	for resp := range w.Client.Watch(ctx, prefix, opts...) {
		if err := resp.Err(); err != nil {
			if ctx.Err() == nil {
				logger.Error("watch-ended", err)
			}
			if resp.CompactRevision > rev {
				// History is gone; the periodic pass covers what was missed.
				return resp.CompactRevision - 1
			}
			return rev
		}
		for _, ev := range resp.Events {
			name := strings.TrimPrefix(string(ev.Kv.Key), prefix)
			switch {
			case ev.Type == clientv3.EventTypeDelete && w.OnGone != nil:
				logger.Info("cell-gone", lager.Data{"cell_id": name})
				w.OnGone(name)
			case ev.Type == clientv3.EventTypePut && w.OnPut != nil:
				w.OnPut(name)
			}
			rev = max(rev, ev.Kv.ModRevision)
		}
		if resp.IsProgressNotify() {
			rev = max(rev, resp.Header.Revision)
		}
	}
	return rev
}
