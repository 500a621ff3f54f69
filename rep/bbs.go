package rep

import (
	"context"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// BBS is the part of the BBS client the rep uses.
type BBS interface {
	RegisterCell(ctx context.Context, logger lager.Logger, presence models.CellPresence, ttlSeconds int) (int64, error)
	HeartbeatCell(ctx context.Context, logger lager.Logger, cellID string, leaseID int64) error

	DesiredLRPByProcessGuid(ctx context.Context, logger lager.Logger, processGuid string) (*models.DesiredLRP, error)
	ActualLRPs(ctx context.Context, logger lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error)
	ClaimActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	StartActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo, routable bool) error
	CrashActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error
	RemoveActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	CreateUnclaimedActualLRPs(ctx context.Context, logger lager.Logger, processGuid string, indices []int) error

	EvacuateRunningActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo) (bool, error)
	EvacuateClaimedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) (bool, error)
	EvacuateCrashedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error
	EvacuateStoppedActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error
	RemoveEvacuatingActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error

	TaskByGuid(ctx context.Context, logger lager.Logger, taskGuid string) (*models.Task, error)
	Tasks(ctx context.Context, logger lager.Logger, filter models.TaskFilter) ([]*models.Task, error)
	StartTask(ctx context.Context, logger lager.Logger, taskGuid, cellID string) (bool, error)
	CompleteTask(ctx context.Context, logger lager.Logger, taskGuid, cellID string, failed bool, failureReason, result string) error
}
