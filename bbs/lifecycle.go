package bbs

import (
	"context"
	"fmt"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// retiree is a CLAIMED or RUNNING record whose container must be stopped.
type retiree struct {
	key string
	rec versioned[models.ActualLRP]
}

// stopInstance asks the rep holding a record to stop its container (the rep
// then removes the record). When the cell is gone there is nobody to ask, so
// the record is removed here.
func (db *DB) stopInstance(ctx context.Context, logger lager.Logger, k string, rec versioned[models.ActualLRP]) error {
	gone, err := db.stopOnRep(ctx, logger, rec.value)
	if err != nil || !gone {
		return err
	}
	cmps, ops := db.update(k, rec, nil)
	_, err = db.commit(ctx, "removing "+k, cmps, ops)
	return err
}

// stopOnRep asks the cell holding lrp to stop it; gone reports that the cell
// has no presence (so nothing runs there to stop).
func (db *DB) stopOnRep(ctx context.Context, logger lager.Logger, lrp *models.ActualLRP) (gone bool, err error) {
	rep, err := db.repFor(ctx, lrp.CellID)
	if err != nil {
		logger.Error("finding-rep-failed", err, lager.Data{"cell-id": lrp.CellID})
		return false, err
	}
	if rep == nil {
		return true, nil
	}
	cctx, cancel := db.callCtx(ctx)
	defer cancel()
	if err := rep.StopLRPInstance(cctx, lrp.ActualLRPKey, lrp.ActualLRPInstanceKey); err != nil {
		logger.Error("stopping-instance-failed", err, lager.Data{"process-guid": lrp.ProcessGuid, "index": lrp.Index, "cell-id": lrp.CellID})
		return false, fmt.Errorf("stopping %s on cell %s: %w", lrp.InstanceGuid, lrp.CellID, err)
	}
	return false, nil
}

// desiredIndex reads the scheduling info and reports whether the index is
// still desired.
func (db *DB) desiredIndex(ctx context.Context, key models.ActualLRPKey) (versioned[models.DesiredLRPSchedulingInfo], bool, error) {
	info, err := get[models.DesiredLRPSchedulingInfo](ctx, db, scheduleKey(key.ProcessGuid))
	if err != nil {
		return info, false, err
	}
	return info, info.exists() && key.Index < info.value.Instances, nil
}

// RetireActualLRP stops an index that is no longer desired: UNCLAIMED and
// CRASHED records (of any presence) are removed, CLAIMED and RUNNING ones are
// stopped through their rep. It re-checks at write time that the index is
// still undesired (at or above the desired count, or no desired LRP), guarded
// by the desired LRP's scheduling key: a retire decided on a snapshot that
// raced a scale back up answers models.ErrResourceConflict and removes
// nothing. Restarting a desired index is KillActualLRP.
func (db *DB) RetireActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error {
	logger = logger.Session("retire-actual-lrp", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	var stops []retiree
	err := db.casLoop(ctx, fmt.Sprintf("retiring %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		stops = nil
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		if len(st) == 0 {
			return nil, nil, notFound(key)
		}
		info, desired, err := db.desiredIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		if desired {
			return nil, nil, conflict("%s/%d is desired again (%d instances); not retiring it", key.ProcessGuid, key.Index, info.value.Instances)
		}
		cmps := []clientv3.Cmp{info.cmp(scheduleKey(key.ProcessGuid))}
		var ops []clientv3.Op
		for slot, rec := range st {
			k := actualKey(key, slot)
			switch rec.value.State {
			case models.ActualLRPStateClaimed, models.ActualLRPStateRunning:
				stops = append(stops, retiree{key: k, rec: rec})
			default:
				c, o := db.update(k, rec, nil)
				cmps, ops = append(cmps, c...), append(ops, o...)
			}
		}
		return cmps, ops, nil
	})
	if err != nil {
		return err
	}
	var firstErr error
	for _, r := range stops {
		if err := db.stopInstance(ctx, logger, r.key, r.rec); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// KillActualLRP restarts an index: when it is still desired its ORDINARY record
// becomes a fresh UNCLAIMED one that is auctioned at once, and the old instance
// is stopped through its rep; otherwise it is retired.
func (db *DB) KillActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error {
	logger = logger.Session("kill-actual-lrp", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	k := actualKey(key, slotOrdinary)
	var old *models.ActualLRP
	var req *models.LRPStartRequest
	retire := false
	err := db.casLoop(ctx, "killing "+k, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		old, req, retire = nil, nil, false
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		info, desired, err := db.desiredIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		cur := st.ordinary()
		if !cur.exists() && len(st) == 0 {
			return nil, nil, notFound(key)
		}
		if !desired {
			retire = true
			return nil, nil, nil
		}
		r := info.value.LRPStartRequest(key.Index)
		req = &r
		next := db.newUnclaimed(models.ActualLRPKey{ProcessGuid: key.ProcessGuid, Index: key.Index, Domain: info.value.Domain})
		if cur.exists() {
			next = db.unclaim(*cur.value)
			if s := cur.value.State; s == models.ActualLRPStateClaimed || s == models.ActualLRPStateRunning {
				old = cur.value
			}
		}
		cmps, ops := db.update(k, cur, next)
		return []clientv3.Cmp{info.cmp(scheduleKey(key.ProcessGuid)), cmps[0]}, ops, nil
	})
	if err != nil {
		return err
	}
	if retire {
		return db.RetireActualLRP(ctx, logger, key)
	}
	db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{req})
	if old != nil {
		// The record already belongs to the replacement; a failed stop leaves an
		// orphan container that its rep destroys when it harmonises.
		_, _ = db.stopOnRep(ctx, logger, old)
	}
	return nil
}
