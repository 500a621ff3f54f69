package models

// Event types, as named on the wire (SSE "event:" lines).
const (
	EventTypeDesiredLRPCreated = "desired_lrp_created"
	EventTypeDesiredLRPChanged = "desired_lrp_changed"
	EventTypeDesiredLRPRemoved = "desired_lrp_removed"
	EventTypeActualLRPCreated  = "actual_lrp_created"
	EventTypeActualLRPChanged  = "actual_lrp_changed"
	EventTypeActualLRPRemoved  = "actual_lrp_removed"
	EventTypeTaskCreated       = "task_created"
	EventTypeTaskChanged       = "task_changed"
	EventTypeTaskRemoved       = "task_removed"
)

// Event is one change, in the order etcd committed it. ID is the etcd revision of
// the change, so a client that reconnects can resume after it. Exactly the body
// fields that belong to Type are set.
type Event struct {
	ID   int64  `json:"-"`
	Type string `json:"-"`

	DesiredLRP       *DesiredLRP `json:"desired_lrp,omitempty"`
	DesiredLRPBefore *DesiredLRP `json:"desired_lrp_before,omitempty"`
	DesiredLRPAfter  *DesiredLRP `json:"desired_lrp_after,omitempty"`
	ActualLRP        *ActualLRP  `json:"actual_lrp,omitempty"`
	ActualLRPBefore  *ActualLRP  `json:"actual_lrp_before,omitempty"`
	ActualLRPAfter   *ActualLRP  `json:"actual_lrp_after,omitempty"`
	Task             *Task       `json:"task,omitempty"`
	TaskBefore       *Task       `json:"task_before,omitempty"`
	TaskAfter        *Task       `json:"task_after,omitempty"`
}
