// Package steps turns a models.Action tree into runnable steps: one small type per
// action kind, all with one shape. A step runs until it finishes or its context
// is cancelled; cancellation is how codependent, timeout and container stop reach
// the processes inside.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Step is one node of an action tree.
type Step interface {
	// Perform runs the step. It returns nil on success, ErrCancelled when ctx was
	// cancelled first, or an error that says what failed.
	Perform(ctx context.Context) error
}

// ErrCancelled is returned by a step whose context was cancelled.
var ErrCancelled = errors.New("cancelled")

// ExitError is a process that exited non-zero.
type ExitError struct{ Status int }

func (e *ExitError) Error() string { return fmt.Sprintf("Exited with status %d", e.Status) }

// TimeoutError is a timeout step whose limit passed.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after %s", e.After) }

// ProcessSpec is a process to start in the container.
type ProcessSpec struct {
	Path   string
	Args   []string
	Dir    string
	Env    []string // NAME=value, later entries win
	User   string
	Nofile *uint64
}

// Process is a started process.
type Process interface {
	// Wait blocks until the process exits and returns its exit status.
	Wait() (int, error)
	// Signal delivers sig to the process.
	Signal(sig os.Signal) error
}

// Container is the part of a garden container that steps use. The executor
// adapts garden's client to it.
type Container interface {
	Run(ctx context.Context, spec ProcessSpec, stdout, stderr io.Writer) (Process, error)
	StreamIn(ctx context.Context, dstPath, user string, tarStream io.Reader) error
	StreamOut(ctx context.Context, srcPath, user string) (io.ReadCloser, error)
}

// Streamer is where a step writes its output and progress lines.
type Streamer interface {
	Stdout() io.Writer
	Stderr() io.Writer
	// WithSource returns a streamer whose lines carry another source name
	// (a run action's log_source); "" keeps the current one.
	WithSource(source string) Streamer
}

// StepFunc adapts a function to Step.
type StepFunc func(ctx context.Context) error

// Perform implements Step.
func (f StepFunc) Perform(ctx context.Context) error { return f(ctx) }
