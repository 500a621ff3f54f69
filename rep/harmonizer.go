package rep

import (
	"context"
	"os"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

// reservationGrace is how long a reserved container may exist without a BBS
// record naming it: it is being claimed right now.
const reservationGrace = time.Minute

// Harmonizer makes containers and BBS records agree, at start, then every
// interval, and at once when the processor missed executor events (a resync
// request). It is an ifrit runner, ready after the first pass.
type Harmonizer struct {
	Rep      *Rep
	Interval time.Duration
}

// Run implements ifrit.Runner.
func (h Harmonizer) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	h.Rep.Harmonize(context.Background())
	close(ready)
	ticker := h.Rep.clock.NewTicker(h.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-signals:
			return nil
		case <-ticker.C():
			h.Rep.Harmonize(context.Background())
		case <-h.Rep.resync:
			h.Rep.logger.Info("resyncing-after-missed-events")
			h.Rep.Harmonize(context.Background())
		}
	}
}

// Harmonize runs one pass over every (container, record) pair of this cell:
//
//	record CLAIMED/RUNNING, no container        -> un-claim: remove and recreate UNCLAIMED
//	record EVACUATING, no container             -> remove the evacuating copy
//	record CLAIMED, container RUNNING           -> mark RUNNING
//	record RUNNING, container RUNNING, routable differs -> report the readiness again
//	container COMPLETED                         -> report it again (crash/remove) and delete it
//	container of a SUSPECT copy on this cell    -> keep it (the converger decides)
//	container with no record (past its grace)   -> destroy it
//	task RUNNING here, no container             -> fail it
//	task container whose task is gone/completed -> destroy it
func (r *Rep) Harmonize(ctx context.Context) {
	logger := r.logger.Session("harmonize")
	if r.adoptionPending.Load() {
		// Containers garden has not listed yet would look missing, and their
		// records would be given away.
		logger.Info("waiting-for-adoption")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	lrps, err := r.bbs.ActualLRPs(ctx, logger, models.ActualLRPFilter{CellID: r.cfg.CellID})
	if err != nil {
		logger.Error("listing-actual-lrps-failed", err)
		return
	}
	tasks, err := r.bbs.Tasks(ctx, logger, models.TaskFilter{CellID: r.cfg.CellID})
	if err != nil {
		logger.Error("listing-tasks-failed", err)
		return
	}
	containers := map[string]executor.Container{}
	for _, c := range r.executor.Containers() {
		containers[c.Guid] = c
	}

	recorded := map[string]bool{}
	for _, lrp := range lrps {
		if lrp.CellID != r.cfg.CellID {
			continue
		}
		recorded[lrp.InstanceGuid] = true
		if lrp.Presence == models.PresenceSuspect {
			// The converger owns a suspect copy: it reverts it if this cell is
			// present again before the replacement runs, and removes it
			// otherwise. Its container stays until then.
			continue
		}
		c, ok := containers[lrp.InstanceGuid]
		instance := lrp.ActualLRPInstanceKey
		switch {
		case !ok && lrp.Presence == models.PresenceEvacuating:
			logger.Info("removing-evacuating-record", lager.Data{"process_guid": lrp.ProcessGuid, "index": lrp.Index})
			if err := r.bbs.RemoveEvacuatingActualLRP(ctx, logger, lrp.ActualLRPKey, instance); err != nil {
				logger.Error("removing-evacuating-record-failed", err, lager.Data{"process_guid": lrp.ProcessGuid, "index": lrp.Index})
			}
		case !ok && (lrp.State == models.ActualLRPStateClaimed || lrp.State == models.ActualLRPStateRunning):
			logger.Info("unclaiming", lager.Data{"process_guid": lrp.ProcessGuid, "index": lrp.Index})
			if err := r.bbs.RemoveActualLRP(ctx, logger, lrp.ActualLRPKey, instance); err != nil {
				logger.Error("unclaiming-remove-failed", err, lager.Data{"process_guid": lrp.ProcessGuid, "index": lrp.Index})
			} else if err := r.bbs.CreateUnclaimedActualLRPs(ctx, logger, lrp.ProcessGuid, []int{lrp.Index}); err != nil {
				logger.Error("unclaiming-create-failed", err, lager.Data{"process_guid": lrp.ProcessGuid, "index": lrp.Index})
			}
		case ok && c.State == executor.StateRunning && lrp.State == models.ActualLRPStateClaimed:
			r.handle(executor.Event{Type: executor.EventRunning, Container: c})
		case ok && c.State == executor.StateRunning && lrp.State == models.ActualLRPStateRunning &&
			lrp.InstanceGuid == c.Guid && lrp.Routable != c.Routable:
			// A readiness change whose event was missed.
			r.handle(executor.Event{Type: executor.EventRoutable, Container: c})
		}
	}

	taskRecords := map[string]*models.Task{}
	for _, t := range tasks {
		taskRecords[t.TaskGuid] = t
		if _, ok := containers[t.TaskGuid]; !ok && t.State == models.TaskStateRunning && t.CellID == r.cfg.CellID {
			logger.Info("failing-task-without-container", lager.Data{"task_guid": t.TaskGuid})
			if err := r.bbs.CompleteTask(ctx, logger, t.TaskGuid, r.cfg.CellID, true, "the task's container disappeared", ""); err != nil {
				logger.Error("failing-task-without-container-failed", err, lager.Data{"task_guid": t.TaskGuid})
			}
		}
	}

	now := r.clock.Now()
	for guid, c := range containers {
		if c.State == executor.StateCompleted {
			r.handle(executor.Event{Type: executor.EventCompleted, Container: c})
			continue
		}
		young := now.Sub(c.ReservedAt) < reservationGrace
		switch c.Kind {
		case executor.KindLRP:
			if !recorded[guid] && !young {
				logger.Info("destroying-unrecorded-container", lager.Data{"guid": guid})
				r.deleteContainer(ctx, logger, guid)
			}
		case executor.KindTask:
			t, ok := taskRecords[guid]
			if (!ok && !young) || (ok && t.State != models.TaskStateRunning && t.State != models.TaskStatePending) {
				logger.Info("destroying-task-container", lager.Data{"guid": guid})
				r.deleteContainer(ctx, logger, guid)
			}
		}
	}
}
