package bbs

import (
	"context"
	"fmt"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// guarded collects the writes of one transaction.
type guarded struct {
	db   *DB
	cmps []clientv3.Cmp
	ops  []clientv3.Op
}

func (g *guarded) add(key string, rec versioned[models.ActualLRP], next *models.ActualLRP) {
	c, o := g.db.update(key, rec, next)
	g.cmps = append(g.cmps, c...)
	g.ops = append(g.ops, o...)
}

// ours reports whether rec exists and is held by instance.
func ours(rec versioned[models.ActualLRP], instance models.ActualLRPInstanceKey) bool {
	return rec.exists() && rec.value.ActualLRPInstanceKey == instance
}

// notOurs is the error for an index that exists but holds nothing of instance's.
func notOurs(st indexState, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	if len(st) == 0 {
		return notFound(key)
	}
	return models.ErrActualLRPCannotBeClaimed.WithMessage("index %d of %s holds no record of instance %s", key.Index, key.ProcessGuid, instance.InstanceGuid)
}

// EvacuateRunningActualLRP is called by an evacuating cell for each instance it
// runs (DESIGN 8.1). The first call copies the RUNNING record to the EVACUATING
// slot (it keeps the route) and makes the index UNCLAIMED for a replacement,
// which is auctioned. Later calls answer keepContainer=true until the
// replacement runs; then the EVACUATING copy is removed and the answer is false.
func (db *DB) EvacuateRunningActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo) (bool, error) {
	logger = logger.Session("evacuate-running", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	var keep bool
	var req *models.LRPStartRequest
	err := db.casLoop(ctx, fmt.Sprintf("evacuating %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		keep, req = false, nil
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		info, desired, err := db.desiredIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		ord, evac := st.ordinary(), st.evacuating()
		g := guarded{db: db, cmps: []clientv3.Cmp{info.cmp(scheduleKey(key.ProcessGuid))}}
		switch {
		case ours(ord, instance) && (ord.value.State == models.ActualLRPStateRunning || ord.value.State == models.ActualLRPStateClaimed):
			if !desired {
				g.add(actualKey(key, slotOrdinary), ord, nil)
				break
			}
			cp := *ord.value
			cp.State = models.ActualLRPStateRunning
			cp.ActualLRPNetInfo = netInfo
			cp.Presence = models.PresenceEvacuating
			cp.Evacuating = true
			db.touch(&cp)
			g.add(actualKey(key, slotEvacuating), evac, &cp)
			g.add(actualKey(key, slotOrdinary), ord, db.unclaim(*ord.value))
			r := info.value.LRPStartRequest(key.Index)
			keep, req = true, &r
		case ours(evac, instance):
			if !desired || (ord.exists() && ord.value.State == models.ActualLRPStateRunning) {
				g.add(actualKey(key, slotEvacuating), evac, nil)
				break
			}
			keep = true
		}
		return g.cmps, g.ops, nil
	})
	if err != nil {
		return false, err
	}
	if req != nil {
		db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{req})
	}
	return keep, nil
}

// EvacuateClaimedActualLRP gives up an instance that had not started: its
// ORDINARY record becomes UNCLAIMED (auctioned) and any EVACUATING copy of it
// goes. The container is never kept.
func (db *DB) EvacuateClaimedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) (bool, error) {
	logger = logger.Session("evacuate-claimed", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	var req *models.LRPStartRequest
	err := db.casLoop(ctx, fmt.Sprintf("evacuating %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		req = nil
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		info, desired, err := db.desiredIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		g := guarded{db: db, cmps: []clientv3.Cmp{info.cmp(scheduleKey(key.ProcessGuid))}}
		if evac := st.evacuating(); ours(evac, instance) {
			g.add(actualKey(key, slotEvacuating), evac, nil)
		}
		if ord := st.ordinary(); ours(ord, instance) {
			if desired {
				g.add(actualKey(key, slotOrdinary), ord, db.unclaim(*ord.value))
				r := info.value.LRPStartRequest(key.Index)
				req = &r
			} else {
				g.add(actualKey(key, slotOrdinary), ord, nil)
			}
		}
		return g.cmps, g.ops, nil
	})
	if err == nil && req != nil {
		db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{req})
	}
	return false, err
}

// EvacuateCrashedActualLRP records a crash on an evacuating cell: the
// instance's EVACUATING copy goes, and its ORDINARY record crashes as usual.
func (db *DB) EvacuateCrashedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error {
	logger = logger.Session("evacuate-crashed", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	st, err := db.readIndex(ctx, key)
	if err != nil {
		return err
	}
	if !ours(st.evacuating(), instance) && !ours(st.ordinary(), instance) {
		return notOurs(st, key, instance)
	}
	if err := db.removeEvacuating(ctx, key, instance, false); err != nil {
		return err
	}
	if ours(st.ordinary(), instance) {
		return db.crash(ctx, logger, key, instance, reason)
	}
	return nil
}

// EvacuateStoppedActualLRP removes every record the stopped instance held.
func (db *DB) EvacuateStoppedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return db.casLoop(ctx, fmt.Sprintf("evacuating stopped %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		g := guarded{db: db}
		for _, slot := range []string{slotOrdinary, slotEvacuating} {
			if rec := st[slot]; ours(rec, instance) {
				g.add(actualKey(key, slot), rec, nil)
			}
		}
		if len(g.ops) == 0 {
			return nil, nil, notOurs(st, key, instance)
		}
		return g.cmps, g.ops, nil
	})
}

// RemoveEvacuatingActualLRP removes the instance's EVACUATING copy.
func (db *DB) RemoveEvacuatingActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return db.removeEvacuating(ctx, key, instance, true)
}

func (db *DB) removeEvacuating(ctx context.Context, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, strict bool) error {
	k := actualKey(key, slotEvacuating)
	return db.casLoop(ctx, "removing "+k, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.ActualLRP](ctx, db, k)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case ours(cur, instance):
			cmps, ops := db.update(k, cur, nil)
			return cmps, ops, nil
		case !strict:
			return nil, nil, nil
		case !cur.exists():
			return nil, nil, notFound(key)
		default:
			return nil, nil, models.ErrActualLRPCannotBeClaimed.WithMessage("the evacuating copy of %s/%d belongs to instance %s", key.ProcessGuid, key.Index, cur.value.InstanceGuid)
		}
	})
}
