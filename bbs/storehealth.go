package bbs

import (
	"context"
	"sort"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// StoreHealth reads etcd's alarms and the database size of every member the
// client knows (the largest is reported). A member that does not answer its
// status is skipped; the alarm list must answer, or the store is unavailable.
func (db *DB) StoreHealth(ctx context.Context) (*models.StoreHealth, error) {
	rctx, cancel := db.reqCtx(ctx)
	defer cancel()
	alarms, err := db.kv.AlarmList(rctx)
	if err != nil {
		return nil, storeErr(ctx, "listing etcd alarms", err)
	}
	health := &models.StoreHealth{Alarms: []string{}}
	seen := map[string]bool{}
	for _, a := range alarms.Alarms {
		name := a.Alarm.String()
		if a.Alarm == 0 || seen[name] { // NONE
			continue
		}
		seen[name] = true
		health.Alarms = append(health.Alarms, name)
	}
	sort.Strings(health.Alarms)
	health.Writable = len(health.Alarms) == 0
	for _, endpoint := range db.kv.Endpoints() {
		status, err := db.kv.Status(rctx, endpoint)
		if err != nil {
			db.logger.Session("store-health").Info("member-status-failed", lager.Data{"endpoint": endpoint, "error": err.Error()})
			continue
		}
		health.DBSizeBytes = max(health.DBSizeBytes, status.DbSize)
		health.DBSizeInUseBytes = max(health.DBSizeInUseBytes, status.DbSizeInUse)
		health.QuotaBytes = max(health.QuotaBytes, status.DbSizeQuota)
	}
	return health, nil
}
