package bbs

import (
	"context"
	"fmt"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// The converger's calls (DESIGN 7.2). The converger decides from a snapshot;
// each call here re-checks the decision's precondition on fresh records under
// CAS and answers models.ErrResourceConflict when the record has moved on.

func conflict(format string, args ...any) error {
	return models.ErrResourceConflict.WithMessage(format, args...)
}

// CreateUnclaimedActualLRPs creates the missing ORDINARY records among indices
// (those below the desired instance count with no record) and auctions them.
// Indices that exist or are no longer desired are skipped.
func (db *DB) CreateUnclaimedActualLRPs(ctx context.Context, logger lager.Logger, processGuid string, indices []int) error {
	logger = logger.Session("create-unclaimed", lager.Data{"process-guid": processGuid})
	for attempt := 0; attempt < casAttempts; attempt++ {
		st, err := db.readProcess(ctx, processGuid)
		if err != nil {
			return err
		}
		if !st.info.exists() {
			return models.ErrDesiredLRPNotFound.WithMessage("no desired LRP %s", processGuid)
		}
		info := st.info.value
		var writes []guardedWrite
		var created []int
		seen := map[int]bool{}
		for _, i := range indices {
			if i < 0 || i >= db.policy.clampInstances(info.Instances) || seen[i] {
				continue
			}
			seen[i] = true
			key := models.ActualLRPKey{ProcessGuid: processGuid, Index: i, Domain: info.Domain}
			k := actualKey(key, slotOrdinary)
			if _, exists := st.actuals[k]; exists {
				continue
			}
			writes = append(writes, guardedWrite{cmp: clientv3.Compare(clientv3.CreateRevision(k), "=", 0), op: db.put(k, db.newUnclaimed(key))})
			created = append(created, i)
		}
		ok, err := db.commitBatches(ctx, "creating unclaimed "+processGuid, st.info.cmp(scheduleKey(processGuid)), writes)
		if err != nil {
			return err
		}
		if ok {
			if len(created) > 0 {
				req := info.LRPStartRequest(created...)
				db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{&req})
			}
			return nil
		}
	}
	return conflict("creating unclaimed %s: lost %d races in a row", processGuid, casAttempts)
}

// AuctionActualLRPs asks the auctioneer again for the keys that are still
// UNCLAIMED and desired; the others have moved on and are skipped.
func (db *DB) AuctionActualLRPs(ctx context.Context, logger lager.Logger, keys []models.ActualLRPKey) error {
	logger = logger.Session("auction-actual-lrps")
	byGuid := map[string][]int{}
	var order []string
	for _, k := range keys {
		if _, ok := byGuid[k.ProcessGuid]; !ok {
			order = append(order, k.ProcessGuid)
		}
		byGuid[k.ProcessGuid] = append(byGuid[k.ProcessGuid], k.Index)
	}
	var reqs []*models.LRPStartRequest
	for _, guid := range order {
		st, err := db.readProcess(ctx, guid)
		if err != nil {
			return err
		}
		if !st.info.exists() {
			continue
		}
		var indices []int
		for _, i := range byGuid[guid] {
			rec, ok := st.actuals[actualKey(models.ActualLRPKey{ProcessGuid: guid, Index: i}, slotOrdinary)]
			if ok && rec.value.State == models.ActualLRPStateUnclaimed && i < st.info.value.Instances {
				indices = append(indices, i)
			}
		}
		if len(indices) > 0 {
			req := st.info.value.LRPStartRequest(indices...)
			reqs = append(reqs, &req)
		}
	}
	db.requestLRPAuctions(ctx, logger, reqs)
	return nil
}

// RestartCrashedActualLRP makes a CRASHED index whose backoff has passed
// UNCLAIMED (keeping its crash count and reason) and auctions it. A record
// that crashed running an older version than the desired one restarts at
// once: its backoff was earned by a definition that is gone.
func (db *DB) RestartCrashedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error {
	logger = logger.Session("restart-crashed", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	k := actualKey(key, slotOrdinary)
	var req *models.LRPStartRequest
	err := db.casLoop(ctx, "restarting "+k, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.ActualLRP](ctx, db, k)
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, notFound(key)
		}
		if cur.value.State != models.ActualLRPStateCrashed {
			return nil, nil, conflict("%s/%d is %s, not CRASHED", key.ProcessGuid, key.Index, cur.value.State)
		}
		info, desired, err := db.desiredIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		if !desired {
			return nil, nil, conflict("%s/%d is no longer desired", key.ProcessGuid, key.Index)
		}
		if !cur.value.Outdated(info.value.Version) && !info.value.EffectiveRestartPolicy().ShouldRestartCrashed(cur.value, db.clock.Now()) {
			return nil, nil, conflict("%s/%d is still backing off after %d crashes", key.ProcessGuid, key.Index, cur.value.CrashCount)
		}
		r := info.value.LRPStartRequest(key.Index)
		req = &r
		cmps, ops := db.update(k, cur, db.unclaim(*cur.value))
		return append(cmps, info.cmp(scheduleKey(key.ProcessGuid))), ops, nil
	})
	if err == nil && req != nil {
		db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{req})
	}
	return err
}

// MarkActualLRPSuspect handles an index whose cell has gone: a RUNNING record
// moves to the SUSPECT slot (it keeps its route, the cell may come back) and a
// fresh UNCLAIMED replacement takes the ORDINARY slot and is auctioned. A
// CLAIMED record (nothing routed yet) simply becomes UNCLAIMED.
func (db *DB) MarkActualLRPSuspect(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error {
	logger = logger.Session("mark-suspect", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	var req *models.LRPStartRequest
	err := db.casLoop(ctx, fmt.Sprintf("marking %s/%d suspect", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		req = nil
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		ord := st.ordinary()
		if !ord.exists() {
			return nil, nil, notFound(key)
		}
		lrp := ord.value
		if lrp.State != models.ActualLRPStateRunning && lrp.State != models.ActualLRPStateClaimed {
			return nil, nil, conflict("%s/%d is %s", key.ProcessGuid, key.Index, lrp.State)
		}
		cell, err := get[models.CellPresence](ctx, db, cellKey(lrp.CellID))
		if err != nil {
			return nil, nil, err
		}
		if cell.exists() {
			return nil, nil, conflict("cell %s of %s/%d is present", lrp.CellID, key.ProcessGuid, key.Index)
		}
		info, desired, err := db.desiredIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		g := guarded{db: db}
		g.cmps = append(g.cmps, clientv3.Compare(clientv3.CreateRevision(cellKey(lrp.CellID)), "=", 0), info.cmp(scheduleKey(key.ProcessGuid)))
		if lrp.State == models.ActualLRPStateRunning {
			sus := st.suspect()
			if sus.exists() {
				return nil, nil, conflict("%s/%d already has a suspect copy", key.ProcessGuid, key.Index)
			}
			cp := *lrp
			cp.Presence = models.PresenceSuspect
			db.touch(&cp)
			g.add(actualKey(key, slotSuspect), sus, &cp)
		}
		if desired {
			g.add(actualKey(key, slotOrdinary), ord, db.unclaim(*lrp))
			r := info.value.LRPStartRequest(key.Index)
			req = &r
		} else {
			g.add(actualKey(key, slotOrdinary), ord, nil)
		}
		return g.cmps, g.ops, nil
	})
	if err == nil && req != nil {
		db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{req})
	}
	return err
}

// RemoveSuspectActualLRP drops the SUSPECT copy once the replacement runs.
func (db *DB) RemoveSuspectActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error {
	return db.casLoop(ctx, fmt.Sprintf("removing suspect %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		sus, ord := st.suspect(), st.ordinary()
		if !sus.exists() {
			return nil, nil, notFound(key)
		}
		if !ord.exists() || ord.value.State != models.ActualLRPStateRunning {
			return nil, nil, conflict("the replacement of %s/%d is not running", key.ProcessGuid, key.Index)
		}
		g := guarded{db: db}
		g.add(actualKey(key, slotSuspect), sus, nil)
		g.cmps = append(g.cmps, ord.cmp(actualKey(key, slotOrdinary)))
		return g.cmps, g.ops, nil
	})
}

// RevertSuspectActualLRP promotes the SUSPECT copy back to ORDINARY when its
// cell returned before the replacement ran; a CLAIMED replacement is stopped.
func (db *DB) RevertSuspectActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error {
	logger = logger.Session("revert-suspect", lager.Data{"process-guid": key.ProcessGuid, "index": key.Index})
	var replaced *models.ActualLRP
	err := db.casLoop(ctx, fmt.Sprintf("reverting suspect %s/%d", key.ProcessGuid, key.Index), func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		replaced = nil
		st, err := db.readIndex(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		sus, ord := st.suspect(), st.ordinary()
		if !sus.exists() {
			return nil, nil, notFound(key)
		}
		if ord.exists() && ord.value.State == models.ActualLRPStateRunning {
			return nil, nil, conflict("the replacement of %s/%d already runs", key.ProcessGuid, key.Index)
		}
		if ord.exists() && ord.value.State == models.ActualLRPStateClaimed {
			replaced = ord.value
		}
		back := *sus.value
		back.Presence = models.PresenceOrdinary
		db.touch(&back)
		g := guarded{db: db}
		g.add(actualKey(key, slotSuspect), sus, nil)
		g.add(actualKey(key, slotOrdinary), ord, &back)
		return g.cmps, g.ops, nil
	})
	if err == nil && replaced != nil {
		_, _ = db.stopOnRep(ctx, logger, replaced)
	}
	return err
}
