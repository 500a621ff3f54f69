package bbs

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// DesireLRP stores a new desired LRP, creates an UNCLAIMED actual LRP for every
// index and asks the auctioneer to place them.
func (db *DB) DesireLRP(ctx context.Context, logger lager.Logger, lrp *models.DesiredLRP) error {
	logger = logger.Session("desire-lrp")
	if err := validateDesired(lrp); err != nil {
		return err
	}
	if err := db.policy.checkInstances(lrp.Instances); err != nil {
		return err
	}
	if err := db.policy.checkPrivileged(lrp.Privileged, models.ErrInvalidLRP); err != nil {
		return err
	}
	stored := *lrp
	stored.ModificationTag = models.ModificationTag{Epoch: db.newGuid(), Index: 0}
	stored.Version, stored.Roll = stored.RunVersion(), nil
	info := stored.SchedulingInfo()
	ok, err := db.commit(ctx, "desiring "+lrp.ProcessGuid,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(runKey(lrp.ProcessGuid)), "=", 0)},
		[]clientv3.Op{db.put(scheduleKey(lrp.ProcessGuid), info), db.put(runKey(lrp.ProcessGuid), &stored)})
	if err != nil {
		return err
	}
	if !ok {
		return models.ErrDesiredLRPAlreadyExists.WithMessage("desired LRP %s already exists", lrp.ProcessGuid)
	}
	lrp.ModificationTag, lrp.Version = stored.ModificationTag, stored.Version
	return db.reconcileIndices(ctx, logger, lrp.ProcessGuid)
}

// UpdateDesiredLRP changes what a PUT may change (models.DesiredLRPUpdate). A
// change of instances is carried out at once: new indices are created and
// auctioned, indices at or above the new count are retired. A change of the
// run definition gives the LRP a new version; the converger rolls the running
// instances to it (docs/rolling.md).
func (db *DB) UpdateDesiredLRP(ctx context.Context, logger lager.Logger, processGuid string, update models.DesiredLRPUpdate) error {
	logger = logger.Session("update-desired-lrp", lager.Data{"process-guid": processGuid})
	if err := validate(&update, models.ErrInvalidRequest); err != nil {
		return err
	}
	if update.Instances != nil {
		if err := db.policy.checkInstances(*update.Instances); err != nil {
			return err
		}
	}
	scaled := false
	err := db.casLoop(ctx, "updating "+processGuid, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.DesiredLRP](ctx, db, runKey(processGuid))
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, models.ErrDesiredLRPNotFound.WithMessage("no desired LRP %s", processGuid)
		}
		before := *cur.value
		if before.Version == "" {
			before.Version = before.RunVersion() // stored before versions existed
		}
		lrp := update.Apply(before)
		if err := validate(&lrp, models.ErrInvalidRequest); err != nil {
			return nil, nil, err
		}
		lrp.Version = lrp.RunVersion()
		scaled = lrp.Instances != cur.value.Instances
		if reflect.DeepEqual(&lrp, cur.value) {
			return nil, nil, nil // nothing to write, so no event either
		}
		if lrp.Version != before.Version {
			logger.Info("new-version", lager.Data{"from": before.Version, "to": lrp.Version})
		}
		lrp.ModificationTag = lrp.ModificationTag.Increment()
		return []clientv3.Cmp{cur.cmp(runKey(processGuid))},
			[]clientv3.Op{db.put(scheduleKey(processGuid), lrp.SchedulingInfo()), db.put(runKey(processGuid), &lrp)}, nil
	})
	if err != nil || !scaled {
		return err
	}
	return db.reconcileIndices(ctx, logger, processGuid)
}

// RemoveDesiredLRP deletes a desired LRP and retires every one of its instances.
func (db *DB) RemoveDesiredLRP(ctx context.Context, logger lager.Logger, processGuid string) error {
	logger = logger.Session("remove-desired-lrp", lager.Data{"process-guid": processGuid})
	err := db.casLoop(ctx, "removing "+processGuid, func(ctx context.Context) ([]clientv3.Cmp, []clientv3.Op, error) {
		cur, err := get[models.DesiredLRP](ctx, db, runKey(processGuid))
		if err != nil {
			return nil, nil, err
		}
		if !cur.exists() {
			return nil, nil, models.ErrDesiredLRPNotFound.WithMessage("no desired LRP %s", processGuid)
		}
		return []clientv3.Cmp{cur.cmp(runKey(processGuid))},
			[]clientv3.Op{clientv3.OpDelete(scheduleKey(processGuid)), clientv3.OpDelete(runKey(processGuid))}, nil
	})
	if err != nil {
		return err
	}
	return db.reconcileIndices(ctx, logger, processGuid)
}

// DesiredLRPs lists desired LRPs matching filter.
func (db *DB) DesiredLRPs(ctx context.Context, logger lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	keep := func(d *models.DesiredLRP) bool { return filter.Domain == "" || d.Domain == filter.Domain }
	if len(filter.ProcessGuids) > 0 {
		return getEach(ctx, db, filter.ProcessGuids, runKey, keep)
	}
	return listPrefix(ctx, db, runPrefix, keep)
}

// DesiredLRPSchedulingInfos lists the scheduling part of desired LRPs matching filter.
func (db *DB) DesiredLRPSchedulingInfos(ctx context.Context, logger lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error) {
	keep := func(d *models.DesiredLRPSchedulingInfo) bool { return filter.Domain == "" || d.Domain == filter.Domain }
	if len(filter.ProcessGuids) > 0 {
		return getEach(ctx, db, filter.ProcessGuids, scheduleKey, keep)
	}
	return listPrefix(ctx, db, schedulePrefix, keep)
}

// DesiredLRPByProcessGuid returns one desired LRP.
func (db *DB) DesiredLRPByProcessGuid(ctx context.Context, logger lager.Logger, processGuid string) (*models.DesiredLRP, error) {
	cur, err := get[models.DesiredLRP](ctx, db, runKey(processGuid))
	if err != nil {
		return nil, err
	}
	if !cur.exists() {
		return nil, models.ErrDesiredLRPNotFound.WithMessage("no desired LRP %s", processGuid)
	}
	return cur.value, nil
}

// processState is one consistent read of a process: its scheduling info (nil
// when not desired) and every actual LRP record, keyed by etcd key.
type processState struct {
	info    versioned[models.DesiredLRPSchedulingInfo]
	actuals map[string]versioned[models.ActualLRP]
}

func (db *DB) readProcess(ctx context.Context, guid string) (processState, error) {
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	resp, err := db.kv.Txn(rctx).Then(
		clientv3.OpGet(scheduleKey(guid)),
		clientv3.OpGet(actualGuidPrefix(guid), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return processState{}, storeErr(ctx, "reading process "+guid, err)
	}
	var st processState
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		if st.info, err = decodeKV[models.DesiredLRPSchedulingInfo](db, scheduleKey(guid), kvs[0].Value, kvs[0].ModRevision, 0); err != nil {
			return processState{}, err
		}
	}
	st.actuals = map[string]versioned[models.ActualLRP]{}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		v, err := decodeKV[models.ActualLRP](db, string(kv.Key), kv.Value, kv.ModRevision, 0)
		if err != nil {
			return processState{}, err
		}
		st.actuals[string(kv.Key)] = v
	}
	return st, nil
}

// newUnclaimed is a fresh record for one index.
func (db *DB) newUnclaimed(key models.ActualLRPKey) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLRPKey: key, State: models.ActualLRPStateUnclaimed, Presence: models.PresenceOrdinary,
		Since: db.now(), ModificationTag: models.ModificationTag{Epoch: db.newGuid()},
	}
}

// reconcileIndices makes the process's records match its desired instance
// count right now: missing indices below the count are created and auctioned,
// records at or above it are retired. Every write is guarded by the desired
// record's revision, so of two racing updates the last one's count wins and no
// stray index survives.
func (db *DB) reconcileIndices(ctx context.Context, logger lager.Logger, guid string) error {
	for attempt := 0; attempt < casAttempts; attempt++ {
		st, err := db.readProcess(ctx, guid)
		if err != nil {
			return err
		}
		instances := 0
		if st.info.exists() {
			instances = db.policy.clampInstances(st.info.value.Instances)
		}
		present := map[int]bool{}
		var writes []guardedWrite
		var stops []retiree
		keys := make([]string, 0, len(st.actuals))
		for k := range st.actuals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rec := st.actuals[k]
			lrp := rec.value
			if strings.HasSuffix(k, "/"+slotOrdinary) {
				present[lrp.Index] = true
			}
			if lrp.Index < instances {
				continue
			}
			switch lrp.State {
			case models.ActualLRPStateClaimed, models.ActualLRPStateRunning:
				stops = append(stops, retiree{key: k, rec: rec})
			default:
				writes = append(writes, guardedWrite{cmp: rec.cmp(k), op: clientv3.OpDelete(k)})
			}
		}
		var created []int
		for i := 0; i < instances; i++ {
			if present[i] {
				continue
			}
			key := models.ActualLRPKey{ProcessGuid: guid, Index: i, Domain: st.info.value.Domain}
			k := actualKey(key, slotOrdinary)
			writes = append(writes, guardedWrite{cmp: clientv3.Compare(clientv3.CreateRevision(k), "=", 0), op: db.put(k, db.newUnclaimed(key))})
			created = append(created, i)
		}
		ok, err := db.commitBatches(ctx, "reconciling "+guid, st.info.cmp(scheduleKey(guid)), writes)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if len(created) > 0 {
			logger.Info("created-indices", lager.Data{"process-guid": guid, "count": len(created)})
			req := st.info.value.LRPStartRequest(created...)
			db.requestLRPAuctions(ctx, logger, []*models.LRPStartRequest{&req})
		}
		for _, r := range stops {
			db.stopInstance(ctx, logger, r.key, r.rec)
		}
		return nil
	}
	return models.ErrResourceConflict.WithMessage("reconciling %s: lost %d races in a row", guid, casAttempts)
}

// guardedWrite is one write and the compare that must hold for it.
type guardedWrite struct {
	cmp clientv3.Cmp
	op  clientv3.Op
}

// commitBatches writes in transactions of at most batchSize records, each also
// guarded by guard. It stops at the first batch whose guards fail (earlier
// batches stay written: every caller re-plans from a fresh read).
func (db *DB) commitBatches(ctx context.Context, op string, guard clientv3.Cmp, writes []guardedWrite) (bool, error) {
	for start := 0; start < len(writes); start += batchSize {
		batch := writes[start:min(start+batchSize, len(writes))]
		cmps := []clientv3.Cmp{guard}
		ops := make([]clientv3.Op, 0, len(batch))
		for _, w := range batch {
			cmps = append(cmps, w.cmp)
			ops = append(ops, w.op)
		}
		ok, err := db.commit(ctx, fmt.Sprintf("%s (batch at %d)", op, start), cmps, ops)
		if err != nil || !ok {
			return ok, err
		}
	}
	return true, nil
}
