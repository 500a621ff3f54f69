package client

import (
	"context"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// Each method below is one POST; see wire.go for the paths.

func (c *Client) UpsertDomain(ctx context.Context, _ lager.Logger, domain string, ttlSeconds int) error {
	return c.call(ctx, UpsertDomainPath, &Request{Domain: domain, TTLSeconds: ttlSeconds}, nil)
}

// StoreHealth reads etcd's alarms and database size through the BBS.
func (c *Client) StoreHealth(ctx context.Context) (*models.StoreHealth, error) {
	var resp Response
	if err := c.call(ctx, StoreHealthPath, &Request{}, &resp); err != nil {
		return nil, err
	}
	if resp.StoreHealth == nil {
		return nil, models.ErrUnknown.WithMessage("%s answered without store_health", StoreHealthPath)
	}
	return resp.StoreHealth, nil
}

func (c *Client) Domains(ctx context.Context, _ lager.Logger) ([]string, error) {
	var resp Response
	err := c.call(ctx, DomainsPath, &Request{}, &resp)
	return resp.Domains, err
}

func (c *Client) RegisterCell(ctx context.Context, _ lager.Logger, presence models.CellPresence, ttlSeconds int) (int64, error) {
	var resp Response
	err := c.call(ctx, RegisterCellPath, &Request{CellPresence: &presence, TTLSeconds: ttlSeconds}, &resp)
	return resp.LeaseID, err
}

func (c *Client) HeartbeatCell(ctx context.Context, _ lager.Logger, cellID string, leaseID int64) error {
	return c.call(ctx, HeartbeatCellPath, &Request{CellID: cellID, LeaseID: leaseID}, nil)
}

func (c *Client) Cells(ctx context.Context, _ lager.Logger) ([]*models.CellPresence, error) {
	var resp Response
	err := c.call(ctx, CellsPath, &Request{}, &resp)
	return resp.Cells, err
}

func (c *Client) DesireLRP(ctx context.Context, _ lager.Logger, lrp *models.DesiredLRP) error {
	return c.call(ctx, DesireLRPPath, &Request{DesiredLRP: lrp}, nil)
}

func (c *Client) UpdateDesiredLRP(ctx context.Context, _ lager.Logger, processGuid string, update models.DesiredLRPUpdate) error {
	return c.call(ctx, UpdateDesiredLRPPath, &Request{ProcessGuid: processGuid, Update: &update}, nil)
}

func (c *Client) RemoveDesiredLRP(ctx context.Context, _ lager.Logger, processGuid string) error {
	return c.call(ctx, RemoveDesiredLRPPath, &Request{ProcessGuid: processGuid}, nil)
}

func (c *Client) DesiredLRPs(ctx context.Context, _ lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	var resp Response
	err := c.call(ctx, DesiredLRPsPath, &Request{DesiredLRPFilter: filter}, &resp)
	return resp.DesiredLRPs, err
}

func (c *Client) DesiredLRPByProcessGuid(ctx context.Context, _ lager.Logger, processGuid string) (*models.DesiredLRP, error) {
	var resp Response
	if err := c.call(ctx, DesiredLRPByProcessGuidPath, &Request{ProcessGuid: processGuid}, &resp); err != nil {
		return nil, err
	}
	return resp.DesiredLRP, nil
}

func (c *Client) DesiredLRPSchedulingInfos(ctx context.Context, _ lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error) {
	var resp Response
	err := c.call(ctx, DesiredLRPSchedulingInfosPath, &Request{DesiredLRPFilter: filter}, &resp)
	return resp.SchedulingInfos, err
}

func (c *Client) ActualLRPs(ctx context.Context, _ lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error) {
	var resp Response
	err := c.call(ctx, ActualLRPsPath, &Request{ActualLRPFilter: filter}, &resp)
	return resp.ActualLRPs, err
}

func (c *Client) ClaimActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return c.call(ctx, ClaimActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance}, nil)
}

func (c *Client) StartActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo, routable bool) error {
	return c.call(ctx, StartActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance, NetInfo: &netInfo, Routable: routable}, nil)
}

func (c *Client) CrashActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error {
	return c.call(ctx, CrashActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance, Reason: reason}, nil)
}

func (c *Client) RemoveActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return c.call(ctx, RemoveActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance}, nil)
}

func (c *Client) FailActualLRPs(ctx context.Context, _ lager.Logger, failures []models.PlacementFailure) error {
	return c.call(ctx, FailActualLRPsPath, &Request{PlacementFailures: failures}, nil)
}

func (c *Client) RetireActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey) error {
	return c.call(ctx, RetireActualLRPPath, &Request{ActualLRPKey: &key}, nil)
}

func (c *Client) KillActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey) error {
	return c.call(ctx, KillActualLRPPath, &Request{ActualLRPKey: &key}, nil)
}

func (c *Client) EvacuateRunningActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, netInfo models.ActualLRPNetInfo) (bool, error) {
	var resp Response
	err := c.call(ctx, EvacuateRunningActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance, NetInfo: &netInfo}, &resp)
	return resp.KeepContainer, err
}

func (c *Client) EvacuateClaimedActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) (bool, error) {
	var resp Response
	err := c.call(ctx, EvacuateClaimedActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance}, &resp)
	return resp.KeepContainer, err
}

func (c *Client) EvacuateCrashedActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey, reason string) error {
	return c.call(ctx, EvacuateCrashedActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance, Reason: reason}, nil)
}

func (c *Client) EvacuateStoppedActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return c.call(ctx, EvacuateStoppedActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance}, nil)
}

func (c *Client) RollActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return c.call(ctx, RollActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance}, nil)
}

func (c *Client) RetireEvacuatingActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return c.call(ctx, RetireEvacuatingActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance}, nil)
}

func (c *Client) RemoveEvacuatingActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	return c.call(ctx, RemoveEvacuatingActualLRPPath, &Request{ActualLRPKey: &key, InstanceKey: &instance}, nil)
}

func (c *Client) CreateUnclaimedActualLRPs(ctx context.Context, _ lager.Logger, processGuid string, indices []int) error {
	return c.call(ctx, CreateUnclaimedActualLRPsPath, &Request{ProcessGuid: processGuid, Indices: indices}, nil)
}

func (c *Client) AuctionActualLRPs(ctx context.Context, _ lager.Logger, keys []models.ActualLRPKey) error {
	return c.call(ctx, AuctionActualLRPsPath, &Request{ActualLRPKeys: keys}, nil)
}

func (c *Client) RestartCrashedActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey) error {
	return c.call(ctx, RestartCrashedActualLRPPath, &Request{ActualLRPKey: &key}, nil)
}

func (c *Client) MarkActualLRPSuspect(ctx context.Context, _ lager.Logger, key models.ActualLRPKey) error {
	return c.call(ctx, MarkActualLRPSuspectPath, &Request{ActualLRPKey: &key}, nil)
}

func (c *Client) RemoveSuspectActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey) error {
	return c.call(ctx, RemoveSuspectActualLRPPath, &Request{ActualLRPKey: &key}, nil)
}

func (c *Client) RevertSuspectActualLRP(ctx context.Context, _ lager.Logger, key models.ActualLRPKey) error {
	return c.call(ctx, RevertSuspectActualLRPPath, &Request{ActualLRPKey: &key}, nil)
}

func (c *Client) DesireTask(ctx context.Context, _ lager.Logger, taskGuid, domain string, def *models.TaskDefinition) error {
	return c.call(ctx, DesireTaskPath, &Request{TaskGuid: taskGuid, Domain: domain, TaskDefinition: def}, nil)
}

func (c *Client) Tasks(ctx context.Context, _ lager.Logger, filter models.TaskFilter) ([]*models.Task, error) {
	var resp Response
	err := c.call(ctx, TasksPath, &Request{TaskFilter: filter}, &resp)
	return resp.Tasks, err
}

func (c *Client) TaskByGuid(ctx context.Context, _ lager.Logger, taskGuid string) (*models.Task, error) {
	var resp Response
	if err := c.call(ctx, TaskByGuidPath, &Request{TaskGuid: taskGuid}, &resp); err != nil {
		return nil, err
	}
	return resp.Task, nil
}

func (c *Client) StartTask(ctx context.Context, _ lager.Logger, taskGuid, cellID string) (bool, error) {
	var resp Response
	err := c.call(ctx, StartTaskPath, &Request{TaskGuid: taskGuid, CellID: cellID}, &resp)
	return resp.ShouldStart, err
}

func (c *Client) CompleteTask(ctx context.Context, _ lager.Logger, taskGuid, cellID string, failed bool, failureReason, result string) error {
	return c.call(ctx, CompleteTaskPath, &Request{TaskGuid: taskGuid, CellID: cellID, Failed: failed, Reason: failureReason, Result: result}, nil)
}

func (c *Client) CancelTask(ctx context.Context, _ lager.Logger, taskGuid string) error {
	return c.call(ctx, CancelTaskPath, &Request{TaskGuid: taskGuid}, nil)
}

func (c *Client) FailTask(ctx context.Context, _ lager.Logger, taskGuid, failureReason string) error {
	return c.call(ctx, FailTaskPath, &Request{TaskGuid: taskGuid, Reason: failureReason}, nil)
}

func (c *Client) RejectTask(ctx context.Context, _ lager.Logger, taskGuid, cellID, reason string) error {
	return c.call(ctx, RejectTaskPath, &Request{TaskGuid: taskGuid, CellID: cellID, Reason: reason}, nil)
}

func (c *Client) ResolvingTask(ctx context.Context, _ lager.Logger, taskGuid string) error {
	return c.call(ctx, ResolvingTaskPath, &Request{TaskGuid: taskGuid}, nil)
}

func (c *Client) DeleteTask(ctx context.Context, _ lager.Logger, taskGuid string) error {
	return c.call(ctx, DeleteTaskPath, &Request{TaskGuid: taskGuid}, nil)
}

func (c *Client) AuctionTasks(ctx context.Context, _ lager.Logger, taskGuids []string) error {
	return c.call(ctx, AuctionTasksPath, &Request{TaskGuids: taskGuids}, nil)
}

func (c *Client) RenewResolvingTask(ctx context.Context, _ lager.Logger, taskGuid string) error {
	return c.call(ctx, RenewResolvingTaskPath, &Request{TaskGuid: taskGuid}, nil)
}

func (c *Client) RevertResolvingTask(ctx context.Context, _ lager.Logger, taskGuid string) error {
	return c.call(ctx, RevertResolvingTaskPath, &Request{TaskGuid: taskGuid}, nil)
}
