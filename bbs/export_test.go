package bbs

import (
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

// ConvertEvent exposes convertEvent to the specs, for etcd events that a real
// watch yields only rarely (a delete whose previous value was compacted).
func (db *DB) ConvertEvent(ev *clientv3.Event) (models.Event, bool, error) {
	return db.convertEvent(ev)
}
