package garden

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
)

// Error is an error that crosses garden's API. Name is stable; Message is for
// people. Errors compare equal (errors.Is) when their names match, so callers
// test against the sentinels below.
type Error struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is matches any *Error with the same Name.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Name == e.Name
}

// The wire errors: a name and an HTTP status each.
var errorStatus = map[string]int{
	"ContainerNotFound":      http.StatusNotFound,
	"ContainerAlreadyExists": http.StatusConflict,
	"OutOfCapacity":          http.StatusServiceUnavailable,
	"ImageFetchFailed":       http.StatusUnprocessableEntity,
	"BadURI":                 http.StatusBadRequest,
	"InvalidSpec":            http.StatusBadRequest,
	"PortInUse":              http.StatusConflict,
	"ProcessNotFound":        http.StatusNotFound,
	"ProcessAlreadyExists":   http.StatusConflict,
	"NoSpace":                http.StatusInsufficientStorage,
	"InternalError":          http.StatusInternalServerError,
}

// Sentinels for errors.Is.
var (
	ErrContainerNotFound      = &Error{Name: "ContainerNotFound", Message: "container not found"}
	ErrContainerAlreadyExists = &Error{Name: "ContainerAlreadyExists", Message: "container already exists"}
	ErrOutOfCapacity          = &Error{Name: "OutOfCapacity", Message: "out of capacity"}
	ErrImageFetchFailed       = &Error{Name: "ImageFetchFailed", Message: "image fetch failed"}
	ErrBadURI                 = &Error{Name: "BadURI", Message: "bad image URI"}
	ErrInvalidSpec            = &Error{Name: "InvalidSpec", Message: "invalid spec"}
	ErrPortInUse              = &Error{Name: "PortInUse", Message: "port in use"}
	ErrProcessNotFound        = &Error{Name: "ProcessNotFound", Message: "process not found"}
	ErrProcessAlreadyExists   = &Error{Name: "ProcessAlreadyExists", Message: "process already exists"}
	ErrNoSpace                = &Error{Name: "NoSpace", Message: "no space left in the container's disk limit"}
	ErrInternal               = &Error{Name: "InternalError", Message: "internal error"}
)

func newError(sentinel *Error, format string, args ...any) *Error {
	return &Error{Name: sentinel.Name, Message: fmt.Sprintf(format, args...)}
}

// NewContainerNotFoundError says no container has this handle.
func NewContainerNotFoundError(handle string) *Error {
	return newError(ErrContainerNotFound, "container not found: %s", handle)
}

// NewContainerAlreadyExistsError says the handle is taken.
func NewContainerAlreadyExistsError(handle string) *Error {
	return newError(ErrContainerAlreadyExists, "container already exists: %s", handle)
}

// NewOutOfCapacityError says which resource ran out.
func NewOutOfCapacityError(what string) *Error {
	return newError(ErrOutOfCapacity, "out of capacity: %s", what)
}

// NewImageFetchFailedError carries the reason the image could not be fetched.
func NewImageFetchFailedError(uri, reason string) *Error {
	return newError(ErrImageFetchFailed, "image fetch failed for %s: %s", uri, reason)
}

// NewBadURIError says the image URI cannot be parsed.
func NewBadURIError(uri, reason string) *Error {
	return newError(ErrBadURI, "bad image URI %q: %s", uri, reason)
}

// NewInvalidSpecError says what is wrong with a request.
func NewInvalidSpecError(format string, args ...any) *Error {
	return newError(ErrInvalidSpec, format, args...)
}

// NewPortInUseError says the host port cannot be mapped.
func NewPortInUseError(port uint32) *Error {
	return newError(ErrPortInUse, "host port %d is already in use", port)
}

// NewProcessNotFoundError says the container has no such process.
func NewProcessNotFoundError(handle, id string) *Error {
	return newError(ErrProcessNotFound, "process %s not found in container %s", id, handle)
}

// NewProcessAlreadyExistsError says the process id is taken.
func NewProcessAlreadyExistsError(handle, id string) *Error {
	return newError(ErrProcessAlreadyExists, "process %s already exists in container %s", id, handle)
}

// AsError turns any error into a wire error; unknown errors become InternalError
// with their message.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if _, ok := errorStatus[e.Name]; ok {
			// Keep the context the wrapping added.
			return &Error{Name: e.Name, Message: err.Error()}
		}
	}
	// A write that ran into a container's disk limit (its own file system
	// is full), wherever in the backend it happened.
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &Error{Name: ErrNoSpace.Name, Message: err.Error()}
	}
	return &Error{Name: ErrInternal.Name, Message: err.Error()}
}

// HTTPStatus is the status an error is served with.
func (e *Error) HTTPStatus() int {
	if s, ok := errorStatus[e.Name]; ok {
		return s
	}
	return http.StatusInternalServerError
}
