// Package health runs an instance's health checks (DESIGN 8.3): a startup phase
// that polls until the first pass or the start timeout, then a liveness phase in
// which the first failure ends the instance, and readiness checks that never
// end it but switch whether it is routable.
package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Defaults of DESIGN 11.
const (
	DefaultStartupInterval  = 2 * time.Second
	DefaultLivenessInterval = 30 * time.Second
	DefaultAttemptTimeout   = time.Second
	DefaultStartTimeout     = 60 * time.Second
)

// Check is one probe of one kind. Attempt makes a single try.
type Check interface {
	Attempt(ctx context.Context) error
	// Interval overrides the liveness interval when non-zero.
	Interval() time.Duration
}

// TCP passes when a connection to Address succeeds within Timeout.
type TCP struct {
	Address string // host:port
	Timeout time.Duration
	Every   time.Duration
}

// Attempt implements Check.
func (t TCP) Attempt(ctx context.Context) error {
	d := net.Dialer{Timeout: orDefault(t.Timeout, DefaultAttemptTimeout)}
	conn, err := d.DialContext(ctx, "tcp", t.Address)
	if err != nil {
		return fmt.Errorf("failed to make TCP connection to %s: %w", t.Address, unwrapOp(err))
	}
	conn.Close()
	return nil
}

// Interval implements Check.
func (t TCP) Interval() time.Duration { return t.Every }

// HTTP passes when GET URL answers 200 within Timeout.
type HTTP struct {
	URL     string
	Timeout time.Duration
	Every   time.Duration
	Client  *http.Client // nil: a client without keep-alive
}

// Attempt implements Check.
func (h HTTP) Attempt(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(h.Timeout, DefaultAttemptTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return err
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("failed to make HTTP request to %s: %w", h.URL, unwrapOp(err))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP health check to %s answered %d", h.URL, resp.StatusCode)
	}
	return nil
}

// Interval implements Check.
func (h HTTP) Interval() time.Duration { return h.Every }

// Func adapts a function (for example a legacy monitor action) to Check.
type Func struct {
	Probe func(ctx context.Context) error
	Every time.Duration
}

// Attempt implements Check.
func (f Func) Attempt(ctx context.Context) error { return f.Probe(ctx) }

// Interval implements Check.
func (f Func) Interval() time.Duration { return f.Every }

// NeverHealthyError ends an instance whose checks did not pass in time.
type NeverHealthyError struct {
	After time.Duration
	Last  error
}

func (e *NeverHealthyError) Error() string {
	return fmt.Sprintf("Instance never healthy after %s: %v", formatSeconds(e.After), e.Last)
}

// UnhealthyError ends an instance whose liveness check failed.
type UnhealthyError struct{ Cause error }

func (e *UnhealthyError) Error() string { return fmt.Sprintf("Instance became unhealthy: %v", e.Cause) }

// ErrCancelled is returned when the context ends first.
var ErrCancelled = errors.New("cancelled")

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// formatSeconds renders a start timeout the way crash reasons show it ("60s").
func formatSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return d.String()
}
