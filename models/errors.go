package models

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error that crosses an API: a stable Name, a human Message and the
// HTTP status it travels with. Compare with errors.Is against the sentinels below
// (names are compared, messages are not).
type Error struct {
	Name    string `json:"name"`
	Message string `json:"message"`
	Status  int    `json:"-"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// Is makes errors.Is(err, ErrTaskNotFound) true for any *Error with that name.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Name == e.Name
}

// WithMessage returns a copy of e carrying a more specific message.
func (e *Error) WithMessage(format string, args ...any) *Error {
	return &Error{Name: e.Name, Status: e.Status, Message: fmt.Sprintf(format, args...)}
}

func newError(status int, name, message string) *Error {
	return &Error{Name: name, Message: message, Status: status}
}

// The table of wire errors. A name never changes once published.
var (
	ErrInvalidJSON    = newError(http.StatusBadRequest, "InvalidJSON", "the request body is not valid JSON")
	ErrInvalidRequest = newError(http.StatusBadRequest, "InvalidRequest", "the request is not valid")
	ErrInvalidTask    = newError(http.StatusBadRequest, "InvalidTask", "the task is not valid")
	ErrInvalidLRP     = newError(http.StatusBadRequest, "InvalidLRP", "the LRP is not valid")
	ErrInvalidDomain  = newError(http.StatusBadRequest, "InvalidDomain", "the domain is not valid")
	ErrBadIndex       = newError(http.StatusBadRequest, "InvalidRequest", "the index is not a non-negative integer")
	ErrBodyTooLarge   = newError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the request body is too large")

	ErrUnauthorized = newError(http.StatusUnauthorized, "Unauthorized", "missing or wrong credentials")
	ErrForbidden    = newError(http.StatusForbidden, "Forbidden", "the caller's role may not do that")

	ErrTaskNotFound             = newError(http.StatusNotFound, "TaskNotFound", "no task with that guid")
	ErrDesiredLRPNotFound       = newError(http.StatusNotFound, "DesiredLRPNotFound", "no desired LRP with that process guid")
	ErrActualLRPIndexNotFound   = newError(http.StatusNotFound, "ActualLRPIndexNotFound", "no actual LRP at that index")
	ErrResourceNotFound         = newError(http.StatusNotFound, "ResourceNotFound", "not found")
	ErrTaskGuidAlreadyExists    = newError(http.StatusConflict, "TaskGuidAlreadyExists", "a task with that guid already exists")
	ErrDesiredLRPAlreadyExists  = newError(http.StatusConflict, "DesiredLRPAlreadyExists", "a desired LRP with that process guid already exists")
	ErrTaskNotDeletable         = newError(http.StatusConflict, "TaskNotDeletable", "only a completed task can be deleted")
	ErrTaskNotCancelable        = newError(http.StatusConflict, "TaskNotCancelable", "the task has already completed")
	ErrInvalidStateTransition   = newError(http.StatusConflict, "InvalidStateTransition", "the record cannot make that transition")
	ErrActualLRPCannotBeClaimed = newError(http.StatusConflict, "ActualLRPCannotBeClaimed", "the actual LRP is held by another instance")
	// ErrTaskCellMismatch: a cell acted on a task that runs on another cell
	// (or a placement rejection reached a task some cell already runs).
	ErrTaskCellMismatch = newError(http.StatusConflict, "TaskCellMismatch", "the task is not assigned to that cell")
	// ErrResourceConflict is a lost modification-tag race (the 2015 receptor's name).
	ErrResourceConflict = newError(http.StatusConflict, "ResourceConflict", "the record changed underneath the request; refresh and retry")

	ErrCellNotFound       = newError(http.StatusNotFound, "CellNotFound", "no cell with that id is present")
	ErrServiceUnavailable = newError(http.StatusServiceUnavailable, "ServiceUnavailable", "the store is unavailable")
	ErrUnknown            = newError(http.StatusInternalServerError, "UnknownError", "unexpected error")
)

// AsError turns any error into a wire error, keeping a typed one as it is.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrUnknown.WithMessage("%s", err.Error())
}

// ValidationError lists every bad field of a record, naming each.
type ValidationError []FieldError

// FieldError names one bad field and says what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (v ValidationError) Error() string {
	msg := ""
	for i, f := range v {
		if i > 0 {
			msg += "; "
		}
		msg += f.Field + ": " + f.Reason
	}
	return msg
}

// Empty reports whether nothing was wrong.
func (v ValidationError) Empty() bool { return len(v) == 0 }
