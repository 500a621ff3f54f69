package bbs

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"code.cloudfoundry.org/lager/v3"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// RegisterCell stores a cell's presence bound to a new lease of ttlSeconds; the
// presence disappears when the rep stops heartbeating. Registering again
// replaces the presence (and its lease).
func (db *DB) RegisterCell(ctx context.Context, logger lager.Logger, presence models.CellPresence, ttlSeconds int) (int64, error) {
	if err := validate(&presence, models.ErrInvalidRequest); err != nil {
		return 0, err
	}
	if ttlSeconds <= 0 {
		return 0, models.ErrInvalidRequest.WithMessage("ttl: must be positive")
	}
	old, err := get[models.CellPresence](ctx, db, cellKey(presence.CellID))
	if err != nil {
		return 0, err
	}
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	lease, err := db.kv.Grant(rctx, int64(ttlSeconds))
	if err != nil {
		return 0, storeErr(ctx, "granting cell lease", err)
	}
	if _, err := db.kv.Put(rctx, cellKey(presence.CellID), db.encode(cellKey(presence.CellID), presence), clientv3.WithLease(lease.ID)); err != nil {
		return 0, storeErr(ctx, "registering cell "+presence.CellID, err)
	}
	db.revokeQuietly(ctx, logger, old.lease, int64(lease.ID))
	return int64(lease.ID), nil
}

// revokeQuietly drops a replaced lease so it does not linger until its TTL.
func (db *DB) revokeQuietly(ctx context.Context, logger lager.Logger, old, current int64) {
	if old == 0 || old == current {
		return
	}
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	if _, err := db.kv.Revoke(rctx, clientv3.LeaseID(old)); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		logger.Error("revoking-replaced-lease-failed", err)
	}
}

// HeartbeatCell renews a cell's lease. It answers models.ErrCellNotFound when the
// lease has expired or the presence now belongs to another lease; the rep then
// registers again.
func (db *DB) HeartbeatCell(ctx context.Context, logger lager.Logger, cellID string, leaseID int64) error {
	cur, err := get[models.CellPresence](ctx, db, cellKey(cellID))
	if err != nil {
		return err
	}
	if !cur.exists() || cur.lease != leaseID {
		return models.ErrCellNotFound.WithMessage("cell %s is not registered under lease %x", cellID, leaseID)
	}
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	if _, err := db.kv.KeepAliveOnce(rctx, clientv3.LeaseID(leaseID)); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return models.ErrCellNotFound.WithMessage("the lease of cell %s has expired", cellID)
		}
		return storeErr(ctx, "renewing cell "+cellID, err)
	}
	return nil
}

// Cells lists the present cells.
func (db *DB) Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error) {
	return listPrefix[models.CellPresence](ctx, db, cellPrefix, nil)
}

// UpsertDomain marks a domain fresh for ttlSeconds (0: for ever). Each upsert
// binds the domain to a new lease and revokes the previous one.
func (db *DB) UpsertDomain(ctx context.Context, logger lager.Logger, domain string, ttlSeconds int) error {
	if domain == "" || strings.Contains(domain, "/") {
		return models.ErrInvalidDomain.WithMessage("domain must be a non-empty name without '/'")
	}
	if ttlSeconds < 0 {
		return models.ErrInvalidDomain.WithMessage("ttl must not be negative")
	}
	old, err := get[models.Domain](ctx, db, domainKey(domain))
	if err != nil {
		return err
	}
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	var opts []clientv3.OpOption
	var leaseID int64
	if ttlSeconds > 0 {
		lease, err := db.kv.Grant(rctx, int64(ttlSeconds))
		if err != nil {
			return storeErr(ctx, "granting domain lease", err)
		}
		leaseID = int64(lease.ID)
		opts = append(opts, clientv3.WithLease(lease.ID))
	}
	value := db.encode(domainKey(domain), models.Domain{Name: domain, TTLSeconds: ttlSeconds})
	if _, err := db.kv.Put(rctx, domainKey(domain), value, opts...); err != nil {
		return storeErr(ctx, "upserting domain "+domain, err)
	}
	db.revokeQuietly(ctx, logger, old.lease, leaseID)
	return nil
}

// Domains lists the fresh domains (expired ones have lost their key with their lease).
func (db *DB) Domains(ctx context.Context, logger lager.Logger) ([]string, error) {
	domains, err := listPrefix[models.Domain](ctx, db, domainPrefix, nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(domains))
	for _, d := range domains {
		names = append(names, d.Name)
	}
	return names, nil
}

// HTTPRepClients reaches reps over HTTP at their presence's rep_url, else its
// rep_address (a URL, or host:port reached with Scheme). Build HTTP with internal/transport.
type HTTPRepClients struct {
	HTTP   *http.Client
	Scheme string // "http" or "https"; default "http"
}

// RepClient implements RepClientFactory.
func (f HTTPRepClients) RepClient(cell *models.CellPresence) (RepClient, error) {
	url := cell.RepEndpoint(f.Scheme)
	httpClient := f.HTTP
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return repapi.NewClient(httpClient, url), nil
}
