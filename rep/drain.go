package rep

import (
	"context"
	"errors"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

// The way out of a running LRP instance (docs/cell.md, "Stopping an
// instance"): first it leaves the routes, then, after the drain delay, its
// processes get SIGTERM, and SIGKILL after the grace period. Every stop of a
// running instance goes this way: the BBS asking (scale-down, delete, kill of
// an index), evacuation, and a drain that timed out.

// StopLRPInstance takes one instance out of service (see retire) and answers
// at once; the container's completion event then removes its record.
func (r *Rep) StopLRPInstance(instanceGuid string) error {
	c, ok := r.executor.Get(instanceGuid)
	if !ok {
		return models.ErrActualLRPIndexNotFound.WithMessage("no instance %s on this cell", instanceGuid)
	}
	if c.Kind != executor.KindLRP {
		return r.stopNow(instanceGuid)
	}
	go r.retire(r.logger.Session("stop-lrp", lager.Data{"guid": instanceGuid}), c)
	return nil
}

// retire withdraws a container's instance from routing, waits the drain delay
// if the instance may have been routed (it was running), then stops it. Only
// the first call for a container acts: the BBS and an evacuation pass may
// both ask.
func (r *Rep) retire(logger lager.Logger, c executor.Container) {
	if _, already := r.draining.LoadOrStore(c.Guid, true); already {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	r.withdraw(ctx, logger, c)
	cancel()
	// Even with nothing to withdraw here (a killed index or a finished
	// evacuation handed the record on, which withdrew the route), the
	// unregister may still be on its way to the routers.
	if c.State == executor.StateRunning && r.cfg.DrainDelay > 0 {
		logger.Info("draining", lager.Data{"delay": r.cfg.DrainDelay.String()})
		r.clock.Sleep(r.cfg.DrainDelay)
	}
	if err := r.stopNow(c.Guid); err != nil {
		logger.Error("stop-failed", err)
	}
}

// stopNow ends a container's work: SIGTERM, then SIGKILL after the grace
// period (executor.grace_period).
func (r *Rep) stopNow(guid string) error {
	if err := r.executor.Stop(guid); err != nil {
		if errors.Is(err, executor.ErrNotFound) {
			return models.ErrActualLRPIndexNotFound.WithMessage("no instance %s on this cell", guid)
		}
		return err
	}
	return nil
}

// withdraw takes a running instance's records out of routing: its ORDINARY
// record becomes unroutable and its EVACUATING copy goes; the route emitter
// unregisters the instance on either event. Only records this instance holds
// are touched: an UNCLAIMED record (the index was handed on) must never be
// written back to it.
func (r *Rep) withdraw(ctx context.Context, logger lager.Logger, c executor.Container) {
	if c.Kind != executor.KindLRP || c.State != executor.StateRunning {
		return
	}
	key, instance := r.lrpKeys(c)
	index := key.Index
	records, err := r.bbs.ActualLRPs(ctx, logger, models.ActualLRPFilter{ProcessGuid: key.ProcessGuid, CellID: r.cfg.CellID, Index: &index})
	if err != nil {
		logger.Error("reading-records-failed", err)
		return
	}
	for _, a := range records {
		if a.ActualLRPInstanceKey != instance || a.State != models.ActualLRPStateRunning {
			continue
		}
		switch a.Presence {
		case models.PresenceEvacuating:
			err = r.bbs.RemoveEvacuatingActualLRP(ctx, logger, key, instance)
		case models.PresenceOrdinary, "":
			if !a.Routable {
				continue
			}
			err = r.bbs.StartActualLRP(ctx, logger, key, instance, a.ActualLRPNetInfo, false)
		default:
			continue // a SUSPECT copy is the BBS's to remove
		}
		if err != nil && !isGone(err) {
			logger.Error("withdrawing-route-failed", err, lager.Data{"presence": a.Presence})
			continue
		}
		logger.Info("withdrawn-from-routing", lager.Data{"presence": a.Presence})
	}
}

// isDraining says whether an instance is on its way out: its readiness must
// not bring its route back.
func (r *Rep) isDraining(guid string) bool {
	_, ok := r.draining.Load(guid)
	return ok
}

// stopAll is the end of an evacuation that timed out: every instance leaves
// the routes, then after one drain delay every container is stopped and
// deleted.
func (r *Rep) stopAll(logger lager.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	running := false
	for _, c := range r.executor.Containers() {
		r.draining.Store(c.Guid, true)
		r.withdraw(ctx, logger, c)
		running = running || c.State == executor.StateRunning
	}
	cancel()
	if running && r.cfg.DrainDelay > 0 {
		r.clock.Sleep(r.cfg.DrainDelay)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*r.cfg.Executor.GracePeriod+10*time.Second)
	defer cancel()
	for _, c := range r.executor.Containers() {
		if err := r.executor.Stop(c.Guid); err != nil && !errors.Is(err, executor.ErrNotFound) {
			logger.Error("stop-failed", err, lager.Data{"guid": c.Guid})
		}
	}
	for _, c := range r.executor.Containers() {
		r.forget(ctx, logger, c.Guid)
	}
}

// forget deletes a container and its draining mark.
func (r *Rep) forget(ctx context.Context, logger lager.Logger, guid string) {
	if err := r.executor.Delete(ctx, guid); err != nil {
		logger.Error("delete-failed", err, lager.Data{"guid": guid})
		return
	}
	r.draining.Delete(guid)
}
