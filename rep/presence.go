package rep

import (
	"context"
	"errors"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// Presence keeps the cell's presence record alive: it registers with a TTL,
// heartbeats every interval, and registers again if the lease was lost. It is
// ready once the first registration succeeded.
type Presence struct {
	Logger   lager.Logger
	BBS      BBS
	Clock    clock.Clock
	Record   func() models.CellPresence
	TTL      time.Duration
	Interval time.Duration
}

// Run implements ifrit.Runner.
func (p *Presence) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := p.Logger.Session("presence")
	ttl := int((p.TTL + time.Second - 1) / time.Second)
	var lease int64
	register := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), p.Interval)
		defer cancel()
		id, err := p.BBS.RegisterCell(ctx, logger, p.Record(), ttl)
		if err == nil {
			lease = id
		}
		return err
	}

	for {
		err := register()
		if err == nil {
			break
		}
		logger.Error("register-failed", err)
		select {
		case <-signals:
			return nil
		case <-p.Clock.After(time.Second):
		}
	}
	logger.Info("registered", lager.Data{"lease": lease})
	close(ready)

	ticker := p.Clock.NewTicker(p.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-signals:
			return nil
		case <-ticker.C():
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.Interval)
		err := p.BBS.HeartbeatCell(ctx, logger, p.Record().CellID, lease)
		cancel()
		if errors.Is(err, models.ErrCellNotFound) || (err == nil && lease == 0) {
			if err := register(); err != nil {
				logger.Error("re-register-failed", err)
			} else {
				logger.Info("re-registered", lager.Data{"lease": lease})
			}
			continue
		}
		if err != nil {
			logger.Error("heartbeat-failed", err)
		}
	}
}
