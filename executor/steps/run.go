package steps

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"time"

	"code.cloudfoundry.org/clock"
)

// DefaultGracePeriod is how long a cancelled process has between SIGTERM and SIGKILL.
const DefaultGracePeriod = 10 * time.Second

// Run starts a process and waits for it. Cancelling it sends SIGTERM, then
// SIGKILL after GracePeriod.
type Run struct {
	Container   Container
	Spec        ProcessSpec
	Streamer    Streamer
	Suppress    bool // suppress_log_output: discard the process's output
	GracePeriod time.Duration
	Clock       clock.Clock
	// Started, when set, is called once the process has started.
	Started func()
}

// Perform implements Step.
func (r Run) Perform(ctx context.Context) error {
	if ctx.Err() != nil {
		return ErrCancelled
	}
	stdout, stderr := r.Streamer.Stdout(), r.Streamer.Stderr()
	if r.Suppress {
		stdout, stderr = io.Discard, io.Discard
	}
	// The process outlives ctx on purpose: stopping it is this step's job.
	proc, err := r.Container.Run(context.WithoutCancel(ctx), r.Spec, stdout, stderr)
	if err != nil {
		return fmt.Errorf("starting %s: %w", r.Spec.Path, err)
	}
	if r.Started != nil {
		r.Started()
	}
	exited := make(chan waitResult, 1)
	go func() {
		status, err := proc.Wait()
		exited <- waitResult{status, err}
	}()

	defer flush(stdout, stderr)

	select {
	case res := <-exited:
		return res.err()
	case <-ctx.Done():
	}

	_ = proc.Signal(syscall.SIGTERM)
	grace := r.GracePeriod
	if grace <= 0 {
		grace = DefaultGracePeriod
	}
	timer := r.Clock.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C():
		_ = proc.Signal(syscall.SIGKILL)
		<-exited
	}
	return ErrCancelled
}

type waitResult struct {
	status  int
	waitErr error
}

func (w waitResult) err() error {
	if w.waitErr != nil {
		return fmt.Errorf("waiting for process: %w", w.waitErr)
	}
	if w.status != 0 {
		return &ExitError{Status: w.status}
	}
	return nil
}

// flusher is a writer that holds back a partial last line.
type flusher interface{ Flush() }

func flush(writers ...io.Writer) {
	for _, w := range writers {
		if f, ok := w.(flusher); ok {
			f.Flush()
		}
	}
}
