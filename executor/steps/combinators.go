package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
)

// Serial runs steps in order and stops at the first failure.
type Serial []Step

// Perform implements Step.
func (s Serial) Perform(ctx context.Context) error {
	for _, step := range s {
		if ctx.Err() != nil {
			return ErrCancelled
		}
		if err := step.Perform(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Parallel runs all steps at once, waits for all, and fails if any failed.
type Parallel []Step

// Perform implements Step.
func (p Parallel) Perform(ctx context.Context) error {
	errs := make([]error, len(p))
	var wg sync.WaitGroup
	for i, step := range p {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = step.Perform(ctx)
		}()
	}
	wg.Wait()
	return aggregate(errs)
}

// Codependent runs all steps at once; as soon as any one returns, the rest are
// cancelled. It fails with the first failure (the returned step's own error, or
// a later one from a step that failed rather than being cancelled).
type Codependent []Step

// Perform implements Step.
func (c Codependent) Perform(ctx context.Context) error {
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, len(c))
	for _, step := range c {
		go func() { results <- step.Perform(inner) }()
	}
	var first error
	for range c {
		err := <-results
		cancel()
		if err != nil && first == nil && !(errors.Is(err, ErrCancelled) && ctx.Err() == nil) {
			first = err
		}
	}
	if first == nil && ctx.Err() != nil {
		return ErrCancelled
	}
	return first
}

// Try runs its step and swallows a failure (but not a cancellation).
type Try struct {
	Step   Step
	Logger io.Writer // where the swallowed failure is mentioned; may be nil
}

// Perform implements Step.
func (t Try) Perform(ctx context.Context) error {
	err := t.Step.Perform(ctx)
	if err == nil || errors.Is(err, ErrCancelled) && ctx.Err() != nil {
		return err
	}
	if t.Logger != nil {
		fmt.Fprintf(t.Logger, "Ignoring failure: %s\n", err)
	}
	return nil
}

// Timeout cancels its step and fails once the limit passes.
type Timeout struct {
	Step  Step
	After time.Duration
	Clock clock.Clock
}

// Perform implements Step.
func (t Timeout) Perform(ctx context.Context) error {
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- t.Step.Perform(inner) }()
	timer := t.Clock.NewTimer(t.After)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C():
		cancel()
		<-done
		return &TimeoutError{After: t.After}
	}
}

// EmitProgress writes a message before its step and one after it, saying how it
// went.
type EmitProgress struct {
	Step                 Step
	Streamer             Streamer
	StartMessage         string
	SuccessMessage       string
	FailureMessagePrefix string
}

// Perform implements Step.
func (e EmitProgress) Perform(ctx context.Context) error {
	if e.StartMessage != "" {
		fmt.Fprintln(e.Streamer.Stdout(), e.StartMessage)
	}
	err := e.Step.Perform(ctx)
	switch {
	case err == nil && e.SuccessMessage != "":
		fmt.Fprintln(e.Streamer.Stdout(), e.SuccessMessage)
	case err != nil && !errors.Is(err, ErrCancelled) && e.FailureMessagePrefix != "":
		fmt.Fprintf(e.Streamer.Stderr(), "%s: %s\n", e.FailureMessagePrefix, err)
	}
	return err
}

func aggregate(errs []error) error {
	var msgs []string
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		msgs = append(msgs, err.Error())
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return first
	}
	return fmt.Errorf("%w (and: %s)", first, strings.Join(msgs[1:], "; "))
}
