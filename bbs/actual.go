package bbs

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// ActualLRPs lists actual LRP records (every presence) matching filter. A
// process guid (and index) narrows the etcd range read; domain and cell are
// matched on the decoded records.
func (db *DB) ActualLRPs(ctx context.Context, logger lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error) {
	prefix := actualPrefix
	if filter.ProcessGuid != "" {
		prefix = actualGuidPrefix(filter.ProcessGuid)
		if filter.Index != nil {
			prefix = actualIndexPrefix(models.ActualLRPKey{ProcessGuid: filter.ProcessGuid, Index: *filter.Index})
		}
	}
	return listPrefix(ctx, db, prefix, func(a *models.ActualLRP) bool {
		return (filter.Domain == "" || a.Domain == filter.Domain) &&
			(filter.CellID == "" || a.CellID == filter.CellID) &&
			(filter.Index == nil || a.Index == *filter.Index)
	})
}

// indexState is every record of one index, by slot.
type indexState map[string]versioned[models.ActualLRP]

func (s indexState) ordinary() versioned[models.ActualLRP]   { return s[slotOrdinary] }
func (s indexState) evacuating() versioned[models.ActualLRP] { return s[slotEvacuating] }
func (s indexState) suspect() versioned[models.ActualLRP]    { return s[slotSuspect] }

// readIndex reads the records of one index in one request.
func (db *DB) readIndex(ctx context.Context, key models.ActualLRPKey) (indexState, error) {
	recs, _, err := listVersioned[models.ActualLRP](ctx, db, actualIndexPrefix(key))
	if err != nil {
		return nil, err
	}
	st := indexState{}
	for k, v := range recs {
		st[k[strings.LastIndex(k, "/")+1:]] = v
	}
	return st, nil
}

func notFound(key models.ActualLRPKey) error {
	return models.ErrActualLRPIndexNotFound.WithMessage("no actual LRP at index %d of %s", key.Index, key.ProcessGuid)
}

// touch marks a new version of a record: since now, modification tag + 1.
func (db *DB) touch(lrp *models.ActualLRP) {
	lrp.Since = db.now()
	lrp.ModificationTag = lrp.ModificationTag.Increment()
}

// unclaim turns a record into a fresh UNCLAIMED one for the same index,
// keeping its crash history.
func (db *DB) unclaim(lrp models.ActualLRP) *models.ActualLRP {
	lrp.State = models.ActualLRPStateUnclaimed
	lrp.ActualLRPInstanceKey = models.ActualLRPInstanceKey{}
	lrp.ActualLRPNetInfo = models.ActualLRPNetInfo{}
	lrp.Routable = false
	lrp.PlacementError = ""
	lrp.Presence = models.PresenceOrdinary
	lrp.Evacuating = false
	db.touch(&lrp)
	return &lrp
}

// update is the guarded write of rec at key: a put of next, or a delete when
// next is nil.
func (db *DB) update(key string, rec versioned[models.ActualLRP], next *models.ActualLRP) ([]clientv3.Cmp, []clientv3.Op) {
	if next == nil {
		return []clientv3.Cmp{rec.cmp(key)}, []clientv3.Op{clientv3.OpDelete(key)}
	}
	return []clientv3.Cmp{rec.cmp(key)}, []clientv3.Op{db.put(key, next)}
}

// ClaimActualLRP reserves an index for an instance on a cell (UNCLAIMED ->
// CLAIMED) and records the desired LRP's version on it. Claiming again with the same instance is a no-op; a record held by
// another instance answers models.ErrActualLRPCannotBeClaimed.
func (db *DB) ClaimActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	k := actualKey(key, slotOrdinary)
	return db.casLoop(ctx, "claiming "+k, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.ActualLRP](ctx, db, k)
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, notFound(key)
		}
		if err := cur.value.CheckTransition(models.ActualLRPStateClaimed, instance); err != nil {
			return nil, nil, err
		}
		if cur.value.State == models.ActualLRPStateClaimed {
			return nil, nil, nil
		}
		info, err := get[models.DesiredLRPSchedulingInfo](ctx, db, scheduleKey(key.ProcessGuid))
		if err != nil {
			return nil, nil, err
		}
		next := *cur.value
		next.State = models.ActualLRPStateClaimed
		next.ActualLRPInstanceKey = instance
		next.ActualLRPNetInfo = models.ActualLRPNetInfo{}
		next.Routable = false
		next.PlacementError = ""
		if info.exists() {
			// The rep reads the definition after claiming, so the container
			// runs this version or a newer one: at worst a roll replaces it
			// once more than needed, never leaves an old one in place.
			if next.Outdated(info.value.Version) {
				next.CrashCount = 0 // the restart policy counts crashes of one definition
			}
			next.Version = info.value.Version
		}
		db.touch(&next)
		cmps, ops := db.update(k, cur, &next)
		return cmps, ops, nil
	})
}

// StartActualLRP records that an instance runs (-> RUNNING with its net info).
// When a SUSPECT copy of the index exists, this replacement running makes it
// redundant, so it is removed in the same transaction (DESIGN 7.2). An
// EVACUATING copy is left for its rep to remove (DESIGN 8.1).
func (db *DB) StartActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo, routable bool) error {
	k := actualKey(key, slotOrdinary)
	return db.casLoop(ctx, "starting "+k, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.ActualLRP](ctx, db, k)
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, notFound(key)
		}
		if err := cur.value.CheckTransition(models.ActualLRPStateRunning, instance); err != nil {
			return nil, nil, err
		}
		lrp := cur.value
		if lrp.State == models.ActualLRPStateRunning && lrp.Routable == routable && reflect.DeepEqual(lrp.ActualLRPNetInfo, netInfo) {
			return nil, nil, nil
		}
		next := *lrp
		next.State = models.ActualLRPStateRunning
		next.ActualLRPInstanceKey = instance
		next.ActualLRPNetInfo = netInfo
		next.Routable = routable
		next.PlacementError = ""
		db.touch(&next)
		cmps, ops := db.update(k, cur, &next)
		// Deleting an absent key writes nothing and emits no event, so the
		// suspect slot needs no read: the guard on the ORDINARY record is what
		// orders this against MarkActualLRPSuspect.
		return cmps, append(ops, clientv3.OpDelete(actualKey(key, slotSuspect))), nil
	})
}

// CrashActualLRP records a crash of the instance (DESIGN 6.3): the crash count
// grows (or resets to 1 after a long healthy run); below the policy's immediate
// restarts the index becomes UNCLAIMED and is auctioned at once, otherwise it is
// CRASHED until the converger restarts it. An index no longer desired is removed.
func (db *DB) CrashActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error {
	logger = logger.Session("crash-actual-lrp", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	return db.crash(ctx, logger, key, instance, reason)
}

func (db *DB) crash(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error {
	k := actualKey(key, slotOrdinary)
	var restart *models.LRPStartRequest
	err := db.casLoop(ctx, "crashing "+k, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		restart = nil
		cur, err := get[models.ActualLRP](ctx, db, k)
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, notFound(key)
		}
		if err := cur.value.CheckTransition(models.ActualLRPStateCrashed, instance); err != nil {
			return nil, nil, err
		}
		info, err := get[models.DesiredLRPSchedulingInfo](ctx, db, scheduleKey(key.ProcessGuid))
		if err != nil {
			return nil, nil, err
		}
		guard := info.cmp(scheduleKey(key.ProcessGuid)) // the decision rests on it
		if !info.exists() || key.Index >= info.value.Instances {
			cmps, ops := db.update(k, cur, nil)
			return append(cmps, guard), ops, nil
		}
		count, restartNow := crashOutcome(info.value.EffectiveRestartPolicy(), cur.value, db.clock.Now())
		next := db.unclaim(*cur.value)
		next.CrashCount = count
		next.CrashReason = reason
		if restartNow {
			req := info.value.LRPStartRequest(key.Index)
			restart = &req
		} else {
			next.State = models.ActualLRPStateCrashed
		}
		cmps, ops := db.update(k, cur, next)
		return append(cmps, guard), ops, nil
	})
	if err == nil && restart != nil {
		db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{restart})
	}
	return err
}

// RemoveActualLRP removes the record an instance holds (ORDINARY or SUSPECT).
// With an empty instance key it removes the ORDINARY record whatever holds it.
func (db *DB) RemoveActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return db.casLoop(ctx, fmt.Sprintf("removing %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		ord := st.ordinary()
		if instance.Empty() {
			if !ord.exists() {
				return nil, nil, notFound(key)
			}
			cmps, ops := db.update(actualKey(key, slotOrdinary), ord, nil)
			return cmps, ops, nil
		}
		for _, slot := range []string{slotOrdinary, slotSuspect} {
			if rec := st[slot]; rec.exists() && rec.value.ActualLRPInstanceKey == instance {
				cmps, ops := db.update(actualKey(key, slot), rec, nil)
				return cmps, ops, nil
			}
		}
		if !ord.exists() {
			return nil, nil, notFound(key)
		}
		return nil, nil, models.ErrActualLRPCannotBeClaimed.WithMessage(
			"index %d of %s is not held by instance %s", key.Index, key.ProcessGuid, instance.InstanceGuid)
	})
}

// FailActualLRPs records why UNCLAIMED indices could not be placed; they stay
// UNCLAIMED and the converger auctions them again. It writes in transactions
// of batchSize records: an auction that cannot place a thousand instances says
// so in a few writes instead of a thousand round trips. An index that is gone
// or no longer UNCLAIMED is skipped, with a log line, and does not hold up the
// others.
func (db *DB) FailActualLRPs(ctx context.Context, logger lager.Logger, failures []models.PlacementFailure) error {
	logger = logger.Session("fail-actual-lrps", lager.Data{"count": len(failures)})
	for start := 0; start < len(failures); start += batchSize {
		batch := failures[start:min(start+batchSize, len(failures))]
		var skipped []string
		err := db.casLoop(ctx, fmt.Sprintf("failing %d placements (batch at %d)", len(batch), start), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
			var cmps []clientv3.Cmp
			var ops []clientv3.Op
			skipped = skipped[:0]
			for _, f := range batch {
				k := actualKey(f.Key, slotOrdinary)
				cur, err := get[models.ActualLRP](ctx, db, k)
				if err != nil {
					return nil, nil, err
				}
				if !cur.exists() || cur.value.State != models.ActualLRPStateUnclaimed {
					skipped = append(skipped, k)
					continue
				}
				next := *cur.value
				next.PlacementError = f.PlacementError
				db.touch(&next)
				c, o := db.update(k, cur, &next)
				cmps, ops = append(cmps, c...), append(ops, o...)
			}
			return cmps, ops, nil
		})
		if err != nil {
			return err
		}
		if len(skipped) > 0 {
			logger.Info("skipped-not-unclaimed", lager.Data{"keys": skipped})
		}
	}
	return nil
}
