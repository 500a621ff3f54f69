package bbs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"code.cloudfoundry.org/lager/v3"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
)

// EventIDScale splits an event id into the etcd revision that committed the
// change and the change's position among the events of that revision:
// id = revision*EventIDScale + position. One transaction writes far fewer than
// EventIDScale records (batchSize), so ids are unique and increase in commit order.
const EventIDScale = 1000

// EventID is the id of the position-th event of an etcd revision.
func EventID(revision int64, position int) int64 { return revision*EventIDScale + int64(position) }

// SubscribeToEvents streams changes to desired LRPs, actual LRPs and tasks in
// commit order. afterID 0 starts with the next change; a positive afterID (an id
// this stream gave out) replays every event after it, while etcd still holds
// that history. When it does not (compaction) Next answers
// models.ErrInvalidRequest and the caller must resync and subscribe from 0.
func (db *DB) SubscribeToEvents(ctx context.Context, logger lager.Logger, afterID int64) (client.EventSource, error) {
	s := &eventSource{db: db, skipRev: afterID / EventIDScale, skipPos: afterID % EventIDScale}
	startRev := s.skipRev
	if afterID <= 0 {
		// Pin the start to the current revision so that nothing committed after
		// this call returns can be missed while the watch is being set up.
		rctx, cancel := db.reqCtx(ctx)
		resp, err := db.kv.Get(rctx, versionKey)
		cancel()
		if err != nil {
			return nil, storeErr(ctx, "subscribing to events", err)
		}
		startRev = resp.Header.Revision + 1
		s.skipRev, s.skipPos = 0, 0
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	s.cancel = cancel
	s.events = db.kv.Watch(wctx, rootPrefix, clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(startRev))
	return s, nil
}

// eventSource turns watch responses into events. Next is for one goroutine;
// Close may be called from any.
type eventSource struct {
	db      *DB
	cancel  context.CancelFunc
	events  clientv3.WatchChan
	queue   []models.Event
	rev     int64 // revision of the last change seen
	pos     int   // events of rev emitted so far
	skipRev int64 // on resume: drop events of skipRev at positions <= skipPos
	skipPos int64
}

// Next blocks until the next event. It answers io.EOF after Close (or when the
// context ends) and an error when etcd ends the watch.
func (s *eventSource) Next() (models.Event, error) {
	for len(s.queue) == 0 {
		resp, ok := <-s.events
		if !ok {
			return models.Event{}, io.EOF
		}
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return models.Event{}, models.ErrInvalidRequest.WithMessage(
					"events up to revision %d were compacted away; resync and subscribe from 0", resp.CompactRevision)
			}
			return models.Event{}, models.ErrServiceUnavailable.WithMessage("event watch ended: %v", err)
		}
		if resp.Canceled {
			return models.Event{}, io.EOF
		}
		for _, ev := range resp.Events {
			rev := ev.Kv.ModRevision
			if rev != s.rev {
				s.rev, s.pos = rev, 0
			}
			event, ok, err := s.db.convertEvent(ev)
			if err != nil {
				return models.Event{}, err
			}
			if !ok {
				continue
			}
			pos := s.pos
			s.pos++
			if rev == s.skipRev && int64(pos) <= s.skipPos {
				continue
			}
			event.ID = EventID(rev, pos)
			s.queue = append(s.queue, event)
		}
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	return ev, nil
}

// Close ends the stream.
func (s *eventSource) Close() error {
	s.cancel()
	return nil
}

// convertEvent builds the event for one key change; ok is false for keys that
// make no event (scheduling infos, cells, domains) and for a rewrite that
// changed only the sealing of a record (RewriteRecords), not its content.
func (db *DB) convertEvent(ev *clientv3.Event) (models.Event, bool, error) {
	key := string(ev.Kv.Key)
	var kind string
	switch {
	case strings.HasPrefix(key, runPrefix):
		kind = "desired_lrp"
	case strings.HasPrefix(key, actualPrefix):
		kind = "actual_lrp"
	case strings.HasPrefix(key, taskPrefix):
		kind = "task"
	default:
		return models.Event{}, false, nil
	}
	var e models.Event
	var before, after []byte
	switch {
	case ev.Type == mvccpb.DELETE:
		if ev.PrevKv == nil {
			// etcd could not give the deleted value (its revision was
			// compacted). A subscriber must still learn of the removal, so
			// the event carries what the key says.
			e, ok := removedFromKey(kind, key)
			return e, ok, nil
		}
		e.Type = kind + "_removed"
		after = ev.PrevKv.Value
	case ev.IsCreate() || ev.PrevKv == nil:
		e.Type = kind + "_created"
		after = ev.Kv.Value
	default:
		e.Type = kind + "_changed"
		before, after = ev.PrevKv.Value, ev.Kv.Value
	}
	if before != nil {
		same, err := db.samePlaintext(key, before, after)
		if err != nil {
			return models.Event{}, false, fmt.Errorf("decoding event for %s: %w", key, err)
		}
		if same {
			return models.Event{}, false, nil
		}
	}
	var err error
	switch kind {
	case "desired_lrp":
		if before != nil {
			e.DesiredLRPBefore, e.DesiredLRPAfter, err = decodePair[models.DesiredLRP](db, key, before, after)
		} else {
			e.DesiredLRP, err = decodeOne[models.DesiredLRP](db, key, after)
		}
	case "actual_lrp":
		if before != nil {
			e.ActualLRPBefore, e.ActualLRPAfter, err = decodePair[models.ActualLRP](db, key, before, after)
		} else {
			e.ActualLRP, err = decodeOne[models.ActualLRP](db, key, after)
		}
	case "task":
		if before != nil {
			e.TaskBefore, e.TaskAfter, err = decodePair[models.Task](db, key, before, after)
		} else {
			e.Task, err = decodeOne[models.Task](db, key, after)
		}
	}
	if err != nil {
		return models.Event{}, false, fmt.Errorf("decoding event for %s: %w", key, err)
	}
	return e, true, nil
}

// removedFromKey is the removal event of a record whose value is unknown: a
// desired LRP or a task with only its guid, an actual LRP with only its process
// guid, index and presence (from the slot), and no instance guid, which tells
// subscribers to drop every copy of that index in that presence. ok is false
// for an actual LRP key not in the BBS's layout (keys.go), which no subscriber
// could act on.
func removedFromKey(kind, key string) (e models.Event, ok bool) {
	switch kind {
	case "desired_lrp":
		return models.Event{Type: models.EventTypeDesiredLRPRemoved, DesiredLRP: &models.DesiredLRP{ProcessGuid: strings.TrimPrefix(key, runPrefix)}}, true
	case "task":
		return models.Event{Type: models.EventTypeTaskRemoved, Task: &models.Task{TaskGuid: strings.TrimPrefix(key, taskPrefix)}}, true
	}
	parts := strings.Split(strings.TrimPrefix(key, actualPrefix), "/")
	if len(parts) != 3 {
		return models.Event{}, false
	}
	index, err := strconv.Atoi(parts[1])
	if err != nil {
		return models.Event{}, false
	}
	a := &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: parts[0], Index: index}, Presence: models.PresenceOrdinary}
	switch parts[2] {
	case slotEvacuating:
		a.Presence, a.Evacuating = models.PresenceEvacuating, true
	case slotSuspect:
		a.Presence = models.PresenceSuspect
	}
	return models.Event{Type: models.EventTypeActualLRPRemoved, ActualLRP: a}, true
}

func decodeOne[T any](db *DB, key string, data []byte) (*T, error) {
	t := new(T)
	return t, db.unmarshalRecord(key, data, t)
}

func decodePair[T any](db *DB, key string, before, after []byte) (*T, *T, error) {
	b, err := decodeOne[T](db, key, before)
	if err != nil {
		return nil, nil, err
	}
	a, err := decodeOne[T](db, key, after)
	return b, a, err
}
