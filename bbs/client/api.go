package client

import (
	"context"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// API is every operation the BBS serves. The concrete *Client implements it over
// JSON/HTTP; consumers declare the small subset they use in their own package.
//
// Errors are *models.Error values decoded from the wire (compare with errors.Is
// against models.ErrTaskNotFound and friends); a BBS that cannot reach etcd
// answers models.ErrServiceUnavailable.
type API interface {
	Ping(ctx context.Context) error
	// StoreHealth reports etcd's alarms (NOSPACE: writes are refused) and the
	// database's size against its quota.
	StoreHealth(ctx context.Context) (*models.StoreHealth, error)

	// Domains
	UpsertDomain(ctx context.Context, logger lager.Logger, domain string, ttlSeconds int) error
	Domains(ctx context.Context, logger lager.Logger) ([]string, error) // fresh domains only

	// Cells. The rep registers with a TTL and heartbeats; when it stops, the lease
	// expires and the cell disappears. Heartbeat answers models.ErrCellNotFound once
	// the lease is gone, and the rep registers again.
	RegisterCell(ctx context.Context, logger lager.Logger, presence models.CellPresence, ttlSeconds int) (leaseID int64, err error)
	HeartbeatCell(ctx context.Context, logger lager.Logger, cellID string, leaseID int64) error
	Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error)

	// Desired LRPs. DesireLRP creates the UNCLAIMED actual LRPs and asks the
	// auctioneer to place them; UpdateDesiredLRP scales up (new indices auctioned)
	// or down (extra indices retired) at once; RemoveDesiredLRP retires every index.
	DesireLRP(ctx context.Context, logger lager.Logger, lrp *models.DesiredLRP) error
	UpdateDesiredLRP(ctx context.Context, logger lager.Logger, processGuid string, update models.DesiredLRPUpdate) error
	RemoveDesiredLRP(ctx context.Context, logger lager.Logger, processGuid string) error
	DesiredLRPs(ctx context.Context, logger lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRP, error)
	DesiredLRPByProcessGuid(ctx context.Context, logger lager.Logger, processGuid string) (*models.DesiredLRP, error)
	DesiredLRPSchedulingInfos(ctx context.Context, logger lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error)

	// Actual LRPs. An index may have up to three records at once: the ORDINARY one,
	// an EVACUATING copy and a SUSPECT copy (distinguished by Presence).
	ActualLRPs(ctx context.Context, logger lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error)

	// Cell-side transitions, guarded as in DESIGN 6.1.
	ClaimActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	StartActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo, routable bool) error
	CrashActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error
	RemoveActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error

	// Auctioneer-side: LRP indices that could not be placed stay UNCLAIMED with
	// their placement errors set, all in one request; an index gone or no
	// longer UNCLAIMED is skipped.
	FailActualLRPs(ctx context.Context, logger lager.Logger, failures []models.PlacementFailure) error

	// RetireActualLRP stops an index: an unclaimed or crashed record is removed, a
	// claimed or running one is stopped through its cell's rep. KillActualLRP does
	// the same and, if the index is still desired, starts a replacement at once.
	RetireActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error
	KillActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error

	// Evacuation (DESIGN 8.1). keepContainer tells the rep whether to keep running
	// the instance (true while its EVACUATING copy still serves traffic).
	EvacuateRunningActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo) (keepContainer bool, err error)
	EvacuateClaimedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) (keepContainer bool, err error)
	EvacuateCrashedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error
	EvacuateStoppedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	RemoveEvacuatingActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error

	// Rolls (converger-side; docs/rolling.md):
	// RollActualLRP moves an outdated RUNNING instance to the EVACUATING slot
	// and auctions a replacement of the current version; once that one serves,
	// RetireEvacuatingActualLRP has the old one leave the routes, then stop.
	RollActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	RetireEvacuatingActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error

	// Converger-side (DESIGN 7.2). Each re-checks its precondition under CAS and
	// answers models.ErrResourceConflict if the record moved on.
	CreateUnclaimedActualLRPs(ctx context.Context, logger lager.Logger, processGuid string, indices []int) error // missing indices: create + auction
	AuctionActualLRPs(ctx context.Context, logger lager.Logger, keys []models.ActualLRPKey) error                // stale UNCLAIMED: auction again
	RestartCrashedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error             // CRASHED past backoff -> UNCLAIMED + auction
	MarkActualLRPSuspect(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error                // cell gone: SUSPECT copy + UNCLAIMED replacement
	RemoveSuspectActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error              // replacement runs: drop the suspect
	RevertSuspectActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error              // cell back first: promote the suspect, drop the replacement

	// Tasks (DESIGN 6.2).
	DesireTask(ctx context.Context, logger lager.Logger, taskGuid, domain string, def *models.TaskDefinition) error
	Tasks(ctx context.Context, logger lager.Logger, filter models.TaskFilter) ([]*models.Task, error)
	TaskByGuid(ctx context.Context, logger lager.Logger, taskGuid string) (*models.Task, error)
	StartTask(ctx context.Context, logger lager.Logger, taskGuid, cellID string) (shouldStart bool, err error)
	CompleteTask(ctx context.Context, logger lager.Logger, taskGuid, cellID string, failed bool, failureReason, result string) error
	CancelTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	FailTask(ctx context.Context, logger lager.Logger, taskGuid, failureReason string) error
	// RejectTask gives a task back for another auction (the 3rd rejection
	// fails it): cellID "" from the auctioneer (PENDING tasks only), or the
	// cell that runs it.
	RejectTask(ctx context.Context, logger lager.Logger, taskGuid, cellID, reason string) error
	ResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	DeleteTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	AuctionTasks(ctx context.Context, logger lager.Logger, taskGuids []string) error // PENDING: auction again
	RevertResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	// RenewResolvingTask tells the BBS a RESOLVING task's callback is still
	// being delivered (its lease: the converger reverts only a RESOLVING
	// task not renewed for its resolving timeout).
	RenewResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error

	// Events, in etcd commit order. afterID 0 starts from now; a positive afterID
	// replays every event after that id (while etcd still holds the history).
	SubscribeToEvents(ctx context.Context, logger lager.Logger, afterID int64) (EventSource, error)
}

// EventSource yields events until Close or the context ends.
type EventSource interface {
	Next() (models.Event, error)
	Close() error
}
