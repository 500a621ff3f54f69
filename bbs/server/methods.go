package server

import (
	"context"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
)

type (
	req  = client.Request
	resp = client.Response
	api  = client.API
	ctxt = context.Context
	log  = lager.Logger
)

// need fails a request missing a field the method cannot do without.
func need(ok bool, field string) error {
	if ok {
		return nil
	}
	return models.ErrInvalidRequest.WithMessage("%s is required", field)
}

// noResult adapts a method that returns only an error.
func noResult(f func(ctx ctxt, l log, db api, r *req) error) method {
	return func(ctx ctxt, l log, db api, r *req) (*resp, error) { return nil, f(ctx, l, db, r) }
}

// keyed adapts a method that needs the actual LRP key.
func keyed(f func(ctx ctxt, l log, db api, r *req) error) method {
	return noResult(func(ctx ctxt, l log, db api, r *req) error {
		if err := need(r.ActualLRPKey != nil, "actual_lrp_key"); err != nil {
			return err
		}
		return f(ctx, l, db, r)
	})
}

// instanced adapts a method that needs the actual LRP key and instance key.
func instanced(f func(ctx ctxt, l log, db api, r *req) error) method {
	return keyed(func(ctx ctxt, l log, db api, r *req) error {
		if err := need(r.InstanceKey != nil, "instance_key"); err != nil {
			return err
		}
		return f(ctx, l, db, r)
	})
}

func methods() map[string]method {
	return map[string]method{
		client.StoreHealthPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			h, err := db.StoreHealth(ctx)
			return &resp{StoreHealth: h}, err
		},
		client.UpsertDomainPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.UpsertDomain(ctx, l, r.Domain, r.TTLSeconds)
		}),
		client.DomainsPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			d, err := db.Domains(ctx, l)
			return &resp{Domains: d}, err
		},
		client.RegisterCellPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			if err := need(r.CellPresence != nil, "cell_presence"); err != nil {
				return nil, err
			}
			id, err := db.RegisterCell(ctx, l, *r.CellPresence, r.TTLSeconds)
			return &resp{LeaseID: id}, err
		},
		client.HeartbeatCellPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.HeartbeatCell(ctx, l, r.CellID, r.LeaseID)
		}),
		client.CellsPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			c, err := db.Cells(ctx, l)
			return &resp{Cells: c}, err
		},

		client.DesireLRPPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			if err := need(r.DesiredLRP != nil, "desired_lrp"); err != nil {
				return err
			}
			return db.DesireLRP(ctx, l, r.DesiredLRP)
		}),
		client.UpdateDesiredLRPPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			if err := need(r.Update != nil, "update"); err != nil {
				return err
			}
			return db.UpdateDesiredLRP(ctx, l, r.ProcessGuid, *r.Update)
		}),
		client.RemoveDesiredLRPPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.RemoveDesiredLRP(ctx, l, r.ProcessGuid)
		}),
		client.DesiredLRPsPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			d, err := db.DesiredLRPs(ctx, l, r.DesiredLRPFilter)
			return &resp{DesiredLRPs: d}, err
		},
		client.DesiredLRPByProcessGuidPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			d, err := db.DesiredLRPByProcessGuid(ctx, l, r.ProcessGuid)
			return &resp{DesiredLRP: d}, err
		},
		client.DesiredLRPSchedulingInfosPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			s, err := db.DesiredLRPSchedulingInfos(ctx, l, r.DesiredLRPFilter)
			return &resp{SchedulingInfos: s}, err
		},

		client.ActualLRPsPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			a, err := db.ActualLRPs(ctx, l, r.ActualLRPFilter)
			return &resp{ActualLRPs: a}, err
		},
		client.ClaimActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.ClaimActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey)
		}),
		client.StartActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			var net models.ActualLRPNetInfo
			if r.NetInfo != nil {
				net = *r.NetInfo
			}
			return db.StartActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey, net, r.Routable)
		}),
		client.CrashActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.CrashActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey, r.Reason)
		}),
		client.RemoveActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.RemoveActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey)
		}),
		client.FailActualLRPsPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.FailActualLRPs(ctx, l, r.PlacementFailures)
		}),
		client.RetireActualLRPPath: keyed(func(ctx ctxt, l log, db api, r *req) error {
			return db.RetireActualLRP(ctx, l, *r.ActualLRPKey)
		}),
		client.KillActualLRPPath: keyed(func(ctx ctxt, l log, db api, r *req) error {
			return db.KillActualLRP(ctx, l, *r.ActualLRPKey)
		}),
		client.EvacuateRunningActualLRPPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			if err := need(r.ActualLRPKey != nil && r.InstanceKey != nil, "actual_lrp_key and instance_key"); err != nil {
				return nil, err
			}
			var net models.ActualLRPNetInfo
			if r.NetInfo != nil {
				net = *r.NetInfo
			}
			keep, err := db.EvacuateRunningActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey, net)
			return &resp{KeepContainer: keep}, err
		},
		client.EvacuateClaimedActualLRPPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			if err := need(r.ActualLRPKey != nil && r.InstanceKey != nil, "actual_lrp_key and instance_key"); err != nil {
				return nil, err
			}
			keep, err := db.EvacuateClaimedActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey)
			return &resp{KeepContainer: keep}, err
		},
		client.EvacuateCrashedActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.EvacuateCrashedActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey, r.Reason)
		}),
		client.EvacuateStoppedActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.EvacuateStoppedActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey)
		}),
		client.RemoveEvacuatingActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.RemoveEvacuatingActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey)
		}),
		client.RollActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.RollActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey)
		}),
		client.RetireEvacuatingActualLRPPath: instanced(func(ctx ctxt, l log, db api, r *req) error {
			return db.RetireEvacuatingActualLRP(ctx, l, *r.ActualLRPKey, *r.InstanceKey)
		}),
		client.CreateUnclaimedActualLRPsPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.CreateUnclaimedActualLRPs(ctx, l, r.ProcessGuid, r.Indices)
		}),
		client.AuctionActualLRPsPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.AuctionActualLRPs(ctx, l, r.ActualLRPKeys)
		}),
		client.RestartCrashedActualLRPPath: keyed(func(ctx ctxt, l log, db api, r *req) error {
			return db.RestartCrashedActualLRP(ctx, l, *r.ActualLRPKey)
		}),
		client.MarkActualLRPSuspectPath: keyed(func(ctx ctxt, l log, db api, r *req) error {
			return db.MarkActualLRPSuspect(ctx, l, *r.ActualLRPKey)
		}),
		client.RemoveSuspectActualLRPPath: keyed(func(ctx ctxt, l log, db api, r *req) error {
			return db.RemoveSuspectActualLRP(ctx, l, *r.ActualLRPKey)
		}),
		client.RevertSuspectActualLRPPath: keyed(func(ctx ctxt, l log, db api, r *req) error {
			return db.RevertSuspectActualLRP(ctx, l, *r.ActualLRPKey)
		}),

		client.DesireTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			if err := need(r.TaskDefinition != nil, "task_definition"); err != nil {
				return err
			}
			return db.DesireTask(ctx, l, r.TaskGuid, r.Domain, r.TaskDefinition)
		}),
		client.TasksPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			t, err := db.Tasks(ctx, l, r.TaskFilter)
			return &resp{Tasks: t}, err
		},
		client.TaskByGuidPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			t, err := db.TaskByGuid(ctx, l, r.TaskGuid)
			return &resp{Task: t}, err
		},
		client.StartTaskPath: func(ctx ctxt, l log, db api, r *req) (*resp, error) {
			ok, err := db.StartTask(ctx, l, r.TaskGuid, r.CellID)
			return &resp{ShouldStart: ok}, err
		},
		client.CompleteTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.CompleteTask(ctx, l, r.TaskGuid, r.CellID, r.Failed, r.Reason, r.Result)
		}),
		client.CancelTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.CancelTask(ctx, l, r.TaskGuid)
		}),
		client.FailTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.FailTask(ctx, l, r.TaskGuid, r.Reason)
		}),
		client.RejectTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.RejectTask(ctx, l, r.TaskGuid, r.CellID, r.Reason)
		}),
		client.ResolvingTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.ResolvingTask(ctx, l, r.TaskGuid)
		}),
		client.DeleteTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.DeleteTask(ctx, l, r.TaskGuid)
		}),
		client.AuctionTasksPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.AuctionTasks(ctx, l, r.TaskGuids)
		}),
		client.RevertResolvingTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.RevertResolvingTask(ctx, l, r.TaskGuid)
		}),
		client.RenewResolvingTaskPath: noResult(func(ctx ctxt, l log, db api, r *req) error {
			return db.RenewResolvingTask(ctx, l, r.TaskGuid)
		}),
	}
}
