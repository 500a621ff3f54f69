package emitter

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"

	bbsclient "github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/routing/messages"
)

// BBS is the part of the BBS client the emitter reads.
type BBS interface {
	DesiredLRPs(ctx context.Context, logger lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRP, error)
	ActualLRPs(ctx context.Context, logger lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error)
	SubscribeToEvents(ctx context.Context, logger lager.Logger, afterID int64) (bbsclient.EventSource, error)
	Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error)
}

// NATS is the part of a NATS connection the emitter uses.
type NATS interface {
	Publish(subject string, data []byte) error
	Subscribe(subject string, cb nats.MsgHandler) (*nats.Subscription, error)
	Request(subject string, data []byte, timeout time.Duration) (*nats.Msg, error)
}

// Config holds the emitter's timing; DefaultConfig has every default.
type Config struct {
	SyncInterval     time.Duration `json:"sync_interval"`     // full sync; default 60 s
	RegisterInterval time.Duration `json:"register_interval"` // re-publish; default 20 s, or what routers ask for
	GreetTimeout     time.Duration `json:"greet_timeout"`     // waiting for router.greet answers; default 1 s
}

// DefaultConfig is every default in one place.
func DefaultConfig() Config {
	return Config{SyncInterval: time.Minute, RegisterInterval: 20 * time.Second, GreetTimeout: time.Second}
}

// Emitter publishes the routing table on NATS. It is an ifrit runner, ready
// after the first full sync.
type Emitter struct {
	Logger lager.Logger
	BBS    BBS
	NATS   NATS
	Clock  clock.Clock
	Config Config

	table *Table
	// cellFetches limits fetches of the cell list made for instances on a
	// cell the table does not know (a cell that is gone stays unknown).
	cellFetches map[string]time.Time
}

// cellRefetch is the least time between two fetches of the cell list made
// for one unknown cell.
const cellRefetch = time.Second

// streamed is what the stream goroutine hands the run loop: an event, or a
// request to rebuild the table from a full sync because the stream restarted
// from now after its history was compacted away.
type streamed struct {
	event  models.Event
	resync bool
}

// Run implements ifrit.Runner.
func (e *Emitter) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := e.Logger.Session("route-emitter")
	e.table = NewTable()
	e.cellFetches = map[string]time.Time{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	starts := make(chan struct{}, 1)
	sub, err := e.NATS.Subscribe(messages.SubjectStart, func(m *nats.Msg) {
		e.adoptInterval(logger, m.Data)
		select {
		case starts <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if reply, err := e.NATS.Request(messages.SubjectGreet, nil, e.Config.GreetTimeout); err == nil {
		e.adoptInterval(logger, reply.Data)
	}

	// Subscribed before the first sync, so no change falls between the two.
	events := make(chan streamed, 1024)
	first, err := e.BBS.SubscribeToEvents(ctx, logger, 0)
	if err != nil {
		logger.Error("subscribe-failed", err)
		first = nil
	}
	go e.stream(ctx, logger, first, events)

	e.sync(ctx, logger)
	close(ready)

	syncTicker := e.Clock.NewTicker(e.Config.SyncInterval)
	defer syncTicker.Stop()
	registerTimer := e.Clock.NewTimer(e.jittered())
	defer registerTimer.Stop()
	for {
		select {
		case <-signals:
			return nil
		case s := <-events:
			if s.resync {
				e.sync(ctx, logger)
				continue
			}
			e.apply(logger, s.event)
		case <-syncTicker.C():
			e.sync(ctx, logger)
		case <-starts:
			e.publish(logger, e.table.Registrations())
		case <-registerTimer.C():
			e.publish(logger, e.table.Registrations())
			registerTimer.Reset(e.jittered())
		}
	}
}

// jittered spreads re-registration over the interval's last fifth, so many
// emitters do not all publish at once.
func (e *Emitter) jittered() time.Duration {
	d := e.Config.RegisterInterval
	return d - time.Duration(rand.Int64N(int64(d/5)+1))
}

func (e *Emitter) adoptInterval(logger lager.Logger, data []byte) {
	var start messages.RouterStart
	if json.Unmarshal(data, &start) == nil && start.MinimumRegisterIntervalInSeconds > 0 {
		interval := time.Duration(start.MinimumRegisterIntervalInSeconds) * time.Second
		if interval < e.Config.RegisterInterval {
			logger.Info("register-interval", lager.Data{"seconds": start.MinimumRegisterIntervalInSeconds})
			e.Config.RegisterInterval = interval
		}
	}
}

// stream follows the BBS event stream, resuming after the last event seen.
// When that resume point has been compacted away (the BBS answers
// InvalidRequest), replaying is impossible: it subscribes from now and then
// asks the run loop for a full sync, which covers whatever it missed.
func (e *Emitter) stream(ctx context.Context, logger lager.Logger, source bbsclient.EventSource, out chan<- streamed) {
	var lastID int64
	resync := false
	for ctx.Err() == nil {
		if source == nil {
			var err error
			source, err = e.BBS.SubscribeToEvents(ctx, logger, lastID)
			if err != nil {
				logger.Error("subscribe-failed", err, lager.Data{"after": lastID})
				e.Clock.Sleep(time.Second)
				continue
			}
		}
		if resync {
			select {
			case out <- streamed{resync: true}:
				resync = false
			case <-ctx.Done():
				source.Close()
				return
			}
		}
		for {
			ev, err := source.Next()
			if err != nil {
				source.Close()
				source = nil
				if ctx.Err() != nil {
					break
				}
				if errors.Is(err, models.ErrInvalidRequest) {
					logger.Error("event-history-compacted-resyncing", err, lager.Data{"after": lastID})
					lastID, resync = 0, true
					break
				}
				logger.Error("event-stream-ended", err, lager.Data{"after": lastID})
				e.Clock.Sleep(time.Second)
				break
			}
			lastID = ev.ID
			select {
			case out <- streamed{event: ev}:
			case <-ctx.Done():
				source.Close()
				return
			}
		}
	}
}

func (e *Emitter) apply(logger lager.Logger, ev models.Event) {
	var msgs []Message
	switch ev.Type {
	case models.EventTypeDesiredLRPCreated:
		msgs = e.table.SetRoutes(ev.DesiredLRP.SchedulingInfo(), ev.DesiredLRP.LogGuid)
	case models.EventTypeDesiredLRPChanged:
		msgs = e.table.SetRoutes(ev.DesiredLRPAfter.SchedulingInfo(), ev.DesiredLRPAfter.LogGuid)
	case models.EventTypeDesiredLRPRemoved:
		msgs = e.table.RemoveRoutes(ev.DesiredLRP.ProcessGuid)
	case models.EventTypeActualLRPCreated:
		e.learnCell(logger, ev.ActualLRP.CellID)
		msgs = e.table.SetActual(ev.ActualLRP)
	case models.EventTypeActualLRPChanged:
		e.learnCell(logger, ev.ActualLRPAfter.CellID)
		if ev.ActualLRPBefore != nil && ev.ActualLRPBefore.InstanceGuid != ev.ActualLRPAfter.InstanceGuid {
			msgs = e.table.RemoveActual(ev.ActualLRPBefore)
		}
		msgs = append(msgs, e.table.SetActual(ev.ActualLRPAfter)...)
	case models.EventTypeActualLRPRemoved:
		msgs = e.table.RemoveActual(ev.ActualLRP)
	}
	e.publish(logger, msgs)
}

// sync rebuilds the table from a full fetch and publishes the differences.
func (e *Emitter) sync(ctx context.Context, logger lager.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	desired, err := e.BBS.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{})
	if err != nil {
		logger.Error("sync-desired-failed", err)
		return
	}
	actual, err := e.BBS.ActualLRPs(ctx, logger, models.ActualLRPFilter{})
	if err != nil {
		logger.Error("sync-actual-failed", err)
		return
	}
	fresh := NewTable()
	if cells, err := e.BBS.Cells(ctx, logger); err != nil {
		// Zones and isolation segments are informational: route anyway.
		logger.Error("sync-cells-failed", err)
	} else {
		fresh.SetCells(cells)
	}
	for _, d := range desired {
		fresh.SetRoutes(d.SchedulingInfo(), d.LogGuid)
	}
	for _, a := range actual {
		fresh.SetActual(a)
	}
	e.publish(logger, e.table.Replace(fresh))
}

// learnCell fetches the cell list when an instance runs on a cell the table
// does not know yet, so that its first registration names its zone and
// isolation segment.
func (e *Emitter) learnCell(logger lager.Logger, cellID string) {
	if cellID == "" || e.table.KnowsCell(cellID) {
		return
	}
	if last, ok := e.cellFetches[cellID]; ok && e.Clock.Since(last) < cellRefetch {
		return
	}
	if len(e.cellFetches) > 1024 {
		e.cellFetches = map[string]time.Time{} // cells that went for good
	}
	e.cellFetches[cellID] = e.Clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cells, err := e.BBS.Cells(ctx, logger)
	if err != nil {
		logger.Error("fetching-cells-failed", err, lager.Data{"cell_id": cellID})
		return
	}
	e.table.SetCells(cells)
}

func (e *Emitter) publish(logger lager.Logger, msgs []Message) {
	for _, m := range msgs {
		data, err := json.Marshal(m.Body)
		if err != nil {
			logger.Error("marshal-failed", err, lager.Data{"subject": m.Subject})
			continue
		}
		if err := e.NATS.Publish(m.Subject, data); err != nil {
			logger.Error("publish-failed", err, lager.Data{"subject": m.Subject})
		}
	}
}
