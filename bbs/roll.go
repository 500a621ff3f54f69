package bbs

import (
	"context"
	"fmt"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// The two steps of a roll (docs/rolling.md). The
// converger decides which index takes which step; these re-check the step's
// precondition under compare-and-swap. They reuse evacuation's records: the
// old instance keeps serving as the index's EVACUATING copy while the
// ORDINARY record is auctioned for the new version, and once that one runs and
// is routable the old one leaves the routes before it stops.

// RollActualLRP starts replacing a RUNNING instance of an older version: the
// instance's record moves to the index's EVACUATING slot (its route stays) and
// the ORDINARY record becomes a fresh UNCLAIMED one (no crash history), which
// is auctioned at once and started from the current definition. It answers
// models.ErrResourceConflict when the index no longer qualifies: the instance
// no longer holds it, it is not RUNNING, it already has an EVACUATING copy, it
// is no longer desired, or it already runs the current version.
func (db *DB) RollActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	logger = logger.Session("roll-actual-lrp", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	var req *models.LRPStartRequest
	err := db.casLoop(ctx, fmt.Sprintf("rolling %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		req = nil
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		info, desired, err := db.desiredIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		ord, evac := st.ordinary(), st.evacuating()
		switch {
		case !ord.exists():
			return nil, nil, notFound(key)
		case !desired:
			return nil, nil, conflict("%s/%d is no longer desired; not rolling it", key.ProcessGuid, key.Index)
		case !ours(ord, instance) || ord.value.State != models.ActualLRPStateRunning:
			return nil, nil, conflict("%s/%d is not a RUNNING instance %s any more", key.ProcessGuid, key.Index, instance.InstanceGuid)
		case evac.exists():
			return nil, nil, conflict("%s/%d already has an evacuating copy", key.ProcessGuid, key.Index)
		case !ord.value.Outdated(info.value.Version):
			return nil, nil, conflict("%s/%d already runs version %s", key.ProcessGuid, key.Index, info.value.Version)
		}
		old := *ord.value
		old.Presence = models.PresenceEvacuating
		old.Evacuating = true
		db.touch(&old)
		next := db.unclaim(*ord.value)
		next.CrashCount, next.CrashReason = 0, ""
		g := guarded{db: db, cmps: []clientv3.Cmp{info.cmp(scheduleKey(key.ProcessGuid))}}
		g.add(actualKey(key, slotEvacuating), evac, &old)
		g.add(actualKey(key, slotOrdinary), ord, next)
		r := info.value.LRPStartRequest(key.Index)
		req = &r
		return g.cmps, g.ops, nil
	})
	if err != nil {
		return err
	}
	logger.Info("rolling", lager.Data{"old-instance": instance.InstanceGuid})
	db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{req})
	return nil
}

// RetireEvacuatingActualLRP ends the instance that holds an index's
// EVACUATING copy, once its replacement serves: its rep withdraws the copy
// (the route emitter unregisters it), waits the drain delay, then stops the
// container (rep.StopLRPInstance). When its cell is gone the copy is removed
// here. An index whose copy is held by another instance, or has none,
// answers models.ErrActualLRPIndexNotFound or ErrActualLRPCannotBeClaimed.
func (db *DB) RetireEvacuatingActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	logger = logger.Session("retire-evacuating", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	k := actualKey(key, slotEvacuating)
	cur, err := get[models.ActualLRP](ctx, db, k)
	if err != nil {
		return err
	}
	switch {
	case !cur.exists():
		return notFound(key)
	case !ours(cur, instance):
		return models.ErrActualLRPCannotBeClaimed.WithMessage("the evacuating copy of %s/%d belongs to instance %s", key.ProcessGuid, key.Index, cur.value.InstanceGuid)
	}
	logger.Info("retiring", lager.Data{"instance": instance.InstanceGuid, "cell-id": instance.CellID})
	return db.stopInstance(ctx, logger, k, cur)
}
