package server

import (
	"net/http"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/models"
)

// access says who may call one path: the roles in roles, and a rep when
// ownCell is set and says the request touches only the rep's own cell.
type access struct {
	roles   []string
	ownCell func(r *req) string // the cell the request acts on; "" when it names none
	anyRep  bool                // every rep may call it
	// noCellForRoles: roles may call it only when ownCell names no cell, so
	// that only a cell's own rep acts as that cell.
	noCellForRoles bool
}

var (
	// readers are the roles that read the whole state; a rep reads only
	// what it runs (see policy).
	readers = []string{certs.RoleReceptor, certs.RoleConverger, certs.RoleAuctioneer, certs.RoleRouteEmitter}
	read    = access{roles: readers}
	// readOne is a read of one record by its guid: reps read the LRPs and
	// tasks they were given to run.
	readOne = access{roles: readers, anyRep: true}
)

func only(roles ...string) access { return access{roles: roles} }

// repCell lets a rep act on the instance it names when that instance is on
// its own cell (roles may act on any).
func repCell(roles ...string) access {
	return access{roles: roles, ownCell: func(r *req) string {
		if r.InstanceKey == nil {
			return ""
		}
		return r.InstanceKey.CellID
	}}
}

// policy maps every BBS path to who may call it. A path missing here is
// refused to every role (see authorize), so a new method has to be placed.
//
// Reps may only change what runs on their own cell: claim, start, crash,
// remove and evacuate instances whose instance key names their cell; start
// and complete tasks for their cell id, and give back a task they run;
// register and heartbeat their own
// presence. They may also ask for missing indices of an existing desired LRP
// (after giving one up), which creates no desired work and touches no other
// cell's record. They list actual LRPs and tasks only filtered to their own
// cell, and read single desired LRPs and tasks by guid (what they were given
// to run). Only the receptor desires, updates and removes LRPs and tasks.
var policy = map[string]access{
	client.EventsPath:       only(certs.RoleReceptor, certs.RoleRouteEmitter, certs.RoleConverger, certs.RoleAuctioneer),
	client.StoreHealthPath:  read,
	client.UpsertDomainPath: only(certs.RoleReceptor),
	client.DomainsPath:      read,
	client.RegisterCellPath: {ownCell: func(r *req) string {
		if r.CellPresence == nil {
			return ""
		}
		return r.CellPresence.CellID
	}},
	client.HeartbeatCellPath: {ownCell: func(r *req) string { return r.CellID }},
	client.CellsPath:         read,

	client.DesireLRPPath:                 only(certs.RoleReceptor),
	client.UpdateDesiredLRPPath:          only(certs.RoleReceptor),
	client.RemoveDesiredLRPPath:          only(certs.RoleReceptor),
	client.DesiredLRPsPath:               read,
	client.DesiredLRPByProcessGuidPath:   readOne,
	client.DesiredLRPSchedulingInfosPath: read,

	client.ActualLRPsPath:                {roles: readers, ownCell: func(r *req) string { return r.ActualLRPFilter.CellID }},
	client.ClaimActualLRPPath:            repCell(),
	client.StartActualLRPPath:            repCell(),
	client.CrashActualLRPPath:            repCell(),
	client.RemoveActualLRPPath:           repCell(),
	client.FailActualLRPsPath:            only(certs.RoleAuctioneer),
	client.RetireActualLRPPath:           only(certs.RoleConverger),
	client.KillActualLRPPath:             only(certs.RoleReceptor, certs.RoleConverger),
	client.EvacuateRunningActualLRPPath:  repCell(),
	client.EvacuateClaimedActualLRPPath:  repCell(),
	client.EvacuateCrashedActualLRPPath:  repCell(),
	client.EvacuateStoppedActualLRPPath:  repCell(),
	client.RemoveEvacuatingActualLRPPath: repCell(certs.RoleConverger),
	client.RollActualLRPPath:             only(certs.RoleConverger),
	client.RetireEvacuatingActualLRPPath: only(certs.RoleConverger),
	client.CreateUnclaimedActualLRPsPath: only(certs.RoleConverger, certs.RoleRep),
	client.AuctionActualLRPsPath:         only(certs.RoleConverger),
	client.RestartCrashedActualLRPPath:   only(certs.RoleConverger),
	client.MarkActualLRPSuspectPath:      only(certs.RoleConverger),
	client.RemoveSuspectActualLRPPath:    only(certs.RoleConverger),
	client.RevertSuspectActualLRPPath:    only(certs.RoleConverger),

	client.DesireTaskPath:   only(certs.RoleReceptor),
	client.TasksPath:        {roles: readers, ownCell: func(r *req) string { return r.TaskFilter.CellID }},
	client.TaskByGuidPath:   readOne,
	client.StartTaskPath:    {ownCell: func(r *req) string { return r.CellID }},
	client.CompleteTaskPath: {ownCell: func(r *req) string { return r.CellID }},
	client.CancelTaskPath:   only(certs.RoleReceptor),
	client.FailTaskPath:     only(certs.RoleConverger),
	// The auctioneer rejects a placement as no cell (cell_id ""), which the
	// BBS applies to PENDING tasks only; a rep may give back a task it runs.
	client.RejectTaskPath: {roles: []string{certs.RoleAuctioneer}, noCellForRoles: true,
		ownCell: func(r *req) string { return r.CellID }},
	client.ResolvingTaskPath:       only(certs.RoleReceptor),
	client.DeleteTaskPath:          only(certs.RoleReceptor, certs.RoleConverger),
	client.AuctionTasksPath:        only(certs.RoleConverger),
	client.RevertResolvingTaskPath: only(certs.RoleReceptor, certs.RoleConverger),
	client.RenewResolvingTaskPath:  only(certs.RoleReceptor),
}

// authorize decides whether the caller of hr may call path with body (nil
// for a request without one). A request that came in plain HTTP carries no
// certificate and passes: the operator ran the BBS without TLS, on loopback.
func authorize(hr *http.Request, path string, body *req) error {
	if hr.TLS == nil {
		return nil
	}
	id, err := transport.PeerIdentity(hr)
	if err != nil {
		return models.ErrForbidden.WithMessage("%s", err.Error())
	}
	rule, ok := policy[path]
	if !ok {
		return models.ErrForbidden.WithMessage("no role may call %s", path)
	}
	for _, role := range rule.roles {
		if role != id.Role {
			continue
		}
		if rule.noCellForRoles && body != nil && rule.ownCell(body) != "" {
			return models.ErrForbidden.WithMessage("%s may not act as cell %q (%s)", id, rule.ownCell(body), path)
		}
		return nil
	}
	if id.Role == certs.RoleRep && rule.anyRep {
		return nil
	}
	if id.Role == certs.RoleRep && rule.ownCell != nil && body != nil {
		cell := rule.ownCell(body)
		if cell == id.CellID {
			return nil
		}
		return models.ErrForbidden.WithMessage("%s may act on its own cell only, not on cell %q (%s)", id, cell, path)
	}
	return models.ErrForbidden.WithMessage("role %s may not call %s", id, path)
}
