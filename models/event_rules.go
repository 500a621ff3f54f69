package models

import "fmt"

// NewDesiredLRPCreatedEvent is a desired_lrp_created event at revision id.
func NewDesiredLRPCreatedEvent(id int64, d *DesiredLRP) Event {
	return Event{ID: id, Type: EventTypeDesiredLRPCreated, DesiredLRP: d}
}

// NewDesiredLRPChangedEvent is a desired_lrp_changed event at revision id.
func NewDesiredLRPChangedEvent(id int64, before, after *DesiredLRP) Event {
	return Event{ID: id, Type: EventTypeDesiredLRPChanged, DesiredLRPBefore: before, DesiredLRPAfter: after}
}

// NewDesiredLRPRemovedEvent is a desired_lrp_removed event at revision id.
func NewDesiredLRPRemovedEvent(id int64, d *DesiredLRP) Event {
	return Event{ID: id, Type: EventTypeDesiredLRPRemoved, DesiredLRP: d}
}

// NewActualLRPCreatedEvent is an actual_lrp_created event at revision id.
func NewActualLRPCreatedEvent(id int64, a *ActualLRP) Event {
	return Event{ID: id, Type: EventTypeActualLRPCreated, ActualLRP: a}
}

// NewActualLRPChangedEvent is an actual_lrp_changed event at revision id.
func NewActualLRPChangedEvent(id int64, before, after *ActualLRP) Event {
	return Event{ID: id, Type: EventTypeActualLRPChanged, ActualLRPBefore: before, ActualLRPAfter: after}
}

// NewActualLRPRemovedEvent is an actual_lrp_removed event at revision id.
func NewActualLRPRemovedEvent(id int64, a *ActualLRP) Event {
	return Event{ID: id, Type: EventTypeActualLRPRemoved, ActualLRP: a}
}

// NewTaskCreatedEvent is a task_created event at revision id.
func NewTaskCreatedEvent(id int64, t *Task) Event {
	return Event{ID: id, Type: EventTypeTaskCreated, Task: t}
}

// NewTaskChangedEvent is a task_changed event at revision id.
func NewTaskChangedEvent(id int64, before, after *Task) Event {
	return Event{ID: id, Type: EventTypeTaskChanged, TaskBefore: before, TaskAfter: after}
}

// NewTaskRemovedEvent is a task_removed event at revision id.
func NewTaskRemovedEvent(id int64, t *Task) Event {
	return Event{ID: id, Type: EventTypeTaskRemoved, Task: t}
}

// DecodeEvent rebuilds an event from its SSE id, event name and data line,
// and checks that the data carries exactly the bodies its type names.
func DecodeEvent(id int64, typ string, data []byte) (Event, error) {
	e := Event{ID: id, Type: typ}
	if err := DecodeJSON(data, &e); err != nil {
		return Event{}, fmt.Errorf("decoding %s event %d: %w", typ, id, err)
	}
	e.ID, e.Type = id, typ
	if err := e.Check(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Event body bits, one per body field, for Check.
const (
	bodyDesired = 1 << iota
	bodyDesiredBefore
	bodyDesiredAfter
	bodyActual
	bodyActualBefore
	bodyActualAfter
	bodyTask
	bodyTaskBefore
	bodyTaskAfter
)

// Check reports an event whose type is unknown or whose bodies do not match
// its type (DESIGN 9: created/removed carry one record, changed before+after).
func (e Event) Check() error {
	var want int
	switch e.Type {
	case EventTypeDesiredLRPCreated, EventTypeDesiredLRPRemoved:
		want = bodyDesired
	case EventTypeDesiredLRPChanged:
		want = bodyDesiredBefore | bodyDesiredAfter
	case EventTypeActualLRPCreated, EventTypeActualLRPRemoved:
		want = bodyActual
	case EventTypeActualLRPChanged:
		want = bodyActualBefore | bodyActualAfter
	case EventTypeTaskCreated, EventTypeTaskRemoved:
		want = bodyTask
	case EventTypeTaskChanged:
		want = bodyTaskBefore | bodyTaskAfter
	default:
		return ErrInvalidRequest.WithMessage("unknown event type %q", e.Type)
	}
	if e.bodies() != want {
		return ErrInvalidRequest.WithMessage("event %q does not carry the bodies of its type", e.Type)
	}
	return nil
}

func (e Event) bodies() int {
	set := 0
	for bit, present := range []bool{
		e.DesiredLRP != nil, e.DesiredLRPBefore != nil, e.DesiredLRPAfter != nil,
		e.ActualLRP != nil, e.ActualLRPBefore != nil, e.ActualLRPAfter != nil,
		e.Task != nil, e.TaskBefore != nil, e.TaskAfter != nil,
	} {
		if present {
			set |= 1 << bit
		}
	}
	return set
}

// ProcessGuid is the process guid of a desired or actual LRP event ("" for a
// task event).
func (e Event) ProcessGuid() string {
	switch {
	case e.DesiredLRP != nil:
		return e.DesiredLRP.ProcessGuid
	case e.DesiredLRPAfter != nil:
		return e.DesiredLRPAfter.ProcessGuid
	case e.ActualLRP != nil:
		return e.ActualLRP.ProcessGuid
	case e.ActualLRPAfter != nil:
		return e.ActualLRPAfter.ProcessGuid
	}
	return ""
}

// TaskGuid is the task guid of a task event ("" otherwise).
func (e Event) TaskGuid() string {
	switch {
	case e.Task != nil:
		return e.Task.TaskGuid
	case e.TaskAfter != nil:
		return e.TaskAfter.TaskGuid
	}
	return ""
}

// Key names the record an event is about: "desired_lrp/<guid>",
// "actual_lrp/<guid>/<index>" or "task/<guid>"; "" for an empty event.
func (e Event) Key() string {
	switch {
	case e.DesiredLRP != nil || e.DesiredLRPAfter != nil:
		return "desired_lrp/" + e.ProcessGuid()
	case e.ActualLRP != nil:
		return fmt.Sprintf("actual_lrp/%s/%d", e.ActualLRP.ProcessGuid, e.ActualLRP.Index)
	case e.ActualLRPAfter != nil:
		return fmt.Sprintf("actual_lrp/%s/%d", e.ActualLRPAfter.ProcessGuid, e.ActualLRPAfter.Index)
	case e.Task != nil || e.TaskAfter != nil:
		return "task/" + e.TaskGuid()
	}
	return ""
}
