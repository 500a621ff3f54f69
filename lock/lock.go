// Package lock elects one active instance of a singleton daemon (auctioneer,
// converger, route-emitter) with an etcd lease. The holder's value (usually its
// URL) is readable by anyone through Holder.
//
// Keys live under /diego/locks/<name>/; each contender writes one key bound to
// its lease and the oldest key holds the lock. When the holder dies its lease
// expires after TTL and the next contender takes over.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultTTL is how long a dead holder keeps a lock unless its daemon's
// config says otherwise: the one default of every lock_ttl (auctioneer,
// converger, route emitter, the BBS's maintenance lock). etcd counts whole
// seconds.
const DefaultTTL = 15 * time.Second

// Prefix is the root of every lock key.
const Prefix = "/diego/locks/"

// ErrNoHolder means nobody holds the lock right now.
var ErrNoHolder = errors.New("lock: no holder")

// ErrLost is returned by Run when the lease is lost while holding the lock.
var ErrLost = errors.New("lock: lost")

// Runner campaigns for the lock and is ready once it holds it. It keeps the lease
// alive while running, returns ErrLost if the lease is lost, and resigns on a
// signal. Put it first in an ordered group so the rest starts only once active.
type Runner struct {
	Logger lager.Logger
	Client *clientv3.Client
	Name   string        // e.g. "auctioneer"
	Value  string        // what Holder returns, e.g. the daemon's URL
	TTL    time.Duration // default 15 s
}

// Run implements ifrit.Runner.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := r.Logger.Session("lock", lager.Data{"name": r.Name})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()

	h, err := r.acquire(ctx, logger)
	if err != nil {
		return nil // signalled while campaigning
	}
	close(ready)
	select {
	case <-h.lost():
		logger.Error("lost", ErrLost)
		h.abandon()
		return ErrLost
	case <-ctx.Done():
		h.release(logger)
		return nil
	}
}

// held is one tenure of the lock: the session whose lease keeps the key.
type held struct {
	session  *concurrency.Session
	election *concurrency.Election
	cancel   context.CancelFunc // ends the session's own context
}

// lost is closed when the lease is gone (expired, or etcd unreachable for
// about a TTL): the lock may be someone else's now.
func (h *held) lost() <-chan struct{} { return h.session.Done() }

// release resigns and revokes the lease, so a standby takes over at once.
func (h *held) release(logger lager.Logger) {
	resignCtx, resignCancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer resignCancel()
	if err := h.election.Resign(resignCtx); err != nil {
		logger.Error("resign-failed", err)
	}
	if err := h.session.Close(); err != nil {
		logger.Error("closing-session-failed", err)
	}
	h.cancel()
	logger.Info("released")
}

// abandon drops a lost tenure without talking to etcd (which may be away).
func (h *held) abandon() { h.cancel() }

// acquire campaigns until it holds the lock, retrying each second after a
// failure; it fails only when ctx ends.
func (r *Runner) acquire(ctx context.Context, logger lager.Logger) (*held, error) {
	ttl := r.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	ttlSeconds := int(ttl.Round(time.Second) / time.Second)
	if ttlSeconds < 1 {
		ttlSeconds = 1
	}
	for {
		// The session lives on its own context so that, after a signal
		// cancels ctx, release can still revoke the lease instead of
		// leaving it to expire.
		sessionCtx, sessionCancel := context.WithCancel(context.Background())
		// Until the lock is held, ending ctx also ends the session, so that
		// a signal is not stuck behind a lease grant while etcd is away.
		detach := context.AfterFunc(ctx, sessionCancel)
		session, err := concurrency.NewSession(r.Client, concurrency.WithTTL(ttlSeconds), concurrency.WithContext(sessionCtx))
		if err == nil {
			election := concurrency.NewElection(session, Prefix+r.Name)
			logger.Info("campaigning")
			err = election.Campaign(ctx, r.Value)
			if err == nil && detach() {
				logger.Info("acquired")
				return &held{session: session, election: election, cancel: sessionCancel}, nil
			}
			// Revoke on a context of its own: a signal has already ended the
			// session's, and a lease left behind would only expire after a TTL.
			revokeCtx, revokeCancel := context.WithTimeout(context.Background(), 2*time.Second)
			if _, rerr := r.Client.Revoke(revokeCtx, session.Lease()); rerr != nil {
				logger.Info("revoking-lease-failed-it-will-expire", lager.Data{"error": rerr.Error()})
			}
			revokeCancel()
		}
		sessionCancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		logger.Error("campaign-failed", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Holder returns the value of the current holder of the named lock.
func Holder(ctx context.Context, client *clientv3.Client, name string) (string, error) {
	resp, err := client.Get(ctx, Prefix+name+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("reading lock %s: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return "", ErrNoHolder
	}
	return string(resp.Kvs[0].Value), nil
}
