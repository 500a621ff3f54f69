package client

import "github.com/diego-runtime/diego/models"

// Paths the BBS serves. Every API method is one POST of a Request that answers
// 200 with a Response (only the fields that method fills are set), or an error
// status with a models.Error body {"name","message"}. PingPath and EventsPath
// are GETs.
const (
	PingPath   = "/ping"
	EventsPath = "/v1/events" // ?after=<id>, text/event-stream

	StoreHealthPath = "/v1/store/health"

	UpsertDomainPath = "/v1/domains/upsert"
	DomainsPath      = "/v1/domains/list"

	RegisterCellPath  = "/v1/cells/register"
	HeartbeatCellPath = "/v1/cells/heartbeat"
	CellsPath         = "/v1/cells/list"

	DesireLRPPath                 = "/v1/desired_lrps/desire"
	UpdateDesiredLRPPath          = "/v1/desired_lrps/update"
	RemoveDesiredLRPPath          = "/v1/desired_lrps/remove"
	DesiredLRPsPath               = "/v1/desired_lrps/list"
	DesiredLRPByProcessGuidPath   = "/v1/desired_lrps/get"
	DesiredLRPSchedulingInfosPath = "/v1/desired_lrps/scheduling_infos"

	ActualLRPsPath                = "/v1/actual_lrps/list"
	ClaimActualLRPPath            = "/v1/actual_lrps/claim"
	StartActualLRPPath            = "/v1/actual_lrps/start"
	CrashActualLRPPath            = "/v1/actual_lrps/crash"
	RemoveActualLRPPath           = "/v1/actual_lrps/remove"
	FailActualLRPsPath            = "/v1/actual_lrps/fail_many"
	RetireActualLRPPath           = "/v1/actual_lrps/retire"
	KillActualLRPPath             = "/v1/actual_lrps/kill"
	EvacuateRunningActualLRPPath  = "/v1/actual_lrps/evacuate_running"
	EvacuateClaimedActualLRPPath  = "/v1/actual_lrps/evacuate_claimed"
	EvacuateCrashedActualLRPPath  = "/v1/actual_lrps/evacuate_crashed"
	EvacuateStoppedActualLRPPath  = "/v1/actual_lrps/evacuate_stopped"
	RemoveEvacuatingActualLRPPath = "/v1/actual_lrps/remove_evacuating"
	RollActualLRPPath             = "/v1/actual_lrps/roll"
	RetireEvacuatingActualLRPPath = "/v1/actual_lrps/retire_evacuating"
	CreateUnclaimedActualLRPsPath = "/v1/actual_lrps/create_unclaimed"
	AuctionActualLRPsPath         = "/v1/actual_lrps/auction"
	RestartCrashedActualLRPPath   = "/v1/actual_lrps/restart_crashed"
	MarkActualLRPSuspectPath      = "/v1/actual_lrps/mark_suspect"
	RemoveSuspectActualLRPPath    = "/v1/actual_lrps/remove_suspect"
	RevertSuspectActualLRPPath    = "/v1/actual_lrps/revert_suspect"

	DesireTaskPath          = "/v1/tasks/desire"
	TasksPath               = "/v1/tasks/list"
	TaskByGuidPath          = "/v1/tasks/get"
	StartTaskPath           = "/v1/tasks/start"
	CompleteTaskPath        = "/v1/tasks/complete"
	CancelTaskPath          = "/v1/tasks/cancel"
	FailTaskPath            = "/v1/tasks/fail"
	RejectTaskPath          = "/v1/tasks/reject"
	ResolvingTaskPath       = "/v1/tasks/resolving"
	DeleteTaskPath          = "/v1/tasks/delete"
	AuctionTasksPath        = "/v1/tasks/auction"
	RevertResolvingTaskPath = "/v1/tasks/revert_resolving"
	RenewResolvingTaskPath  = "/v1/tasks/renew_resolving"
)

// Request is the body of every BBS POST; each method reads only its own fields.
type Request struct {
	Domain     string `json:"domain,omitempty"`
	TTLSeconds int    `json:"ttl_seconds,omitempty"`

	CellPresence *models.CellPresence `json:"cell_presence,omitempty"`
	CellID       string               `json:"cell_id,omitempty"`
	LeaseID      int64                `json:"lease_id,omitempty"`

	ProcessGuid      string                   `json:"process_guid,omitempty"`
	DesiredLRP       *models.DesiredLRP       `json:"desired_lrp,omitempty"`
	Update           *models.DesiredLRPUpdate `json:"update,omitempty"`
	DesiredLRPFilter models.DesiredLRPFilter  `json:"desired_lrp_filter"`

	ActualLRPFilter models.ActualLRPFilter       `json:"actual_lrp_filter"`
	ActualLRPKey    *models.ActualLRPKey         `json:"actual_lrp_key,omitempty"`
	ActualLRPKeys   []models.ActualLRPKey        `json:"actual_lrp_keys,omitempty"`
	InstanceKey     *models.ActualLRPInstanceKey `json:"instance_key,omitempty"`
	NetInfo         *models.ActualLRPNetInfo     `json:"net_info,omitempty"`
	Routable        bool                         `json:"routable,omitempty"`
	Indices         []int                        `json:"indices,omitempty"`

	PlacementFailures []models.PlacementFailure `json:"placement_failures,omitempty"`

	TaskGuid       string                 `json:"task_guid,omitempty"`
	TaskGuids      []string               `json:"task_guids,omitempty"`
	TaskDefinition *models.TaskDefinition `json:"task_definition,omitempty"`
	TaskFilter     models.TaskFilter      `json:"task_filter"`
	Failed         bool                   `json:"failed,omitempty"`
	Result         string                 `json:"result,omitempty"`

	// Reason is the crash reason, placement error, failure or rejection reason.
	Reason string `json:"reason,omitempty"`
}

// Response is the body of every successful BBS POST.
type Response struct {
	LeaseID         int64                              `json:"lease_id,omitempty"`
	Domains         []string                           `json:"domains,omitempty"`
	Cells           []*models.CellPresence             `json:"cells,omitempty"`
	DesiredLRP      *models.DesiredLRP                 `json:"desired_lrp,omitempty"`
	DesiredLRPs     []*models.DesiredLRP               `json:"desired_lrps,omitempty"`
	SchedulingInfos []*models.DesiredLRPSchedulingInfo `json:"scheduling_infos,omitempty"`
	ActualLRPs      []*models.ActualLRP                `json:"actual_lrps,omitempty"`
	Task            *models.Task                       `json:"task,omitempty"`
	Tasks           []*models.Task                     `json:"tasks,omitempty"`
	KeepContainer   bool                               `json:"keep_container,omitempty"`
	ShouldStart     bool                               `json:"should_start,omitempty"`
	StoreHealth     *models.StoreHealth                `json:"store_health,omitempty"`
}
