package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Child runs one daemon as a separate OS process, so that killing it (a cell,
// say) is a real failure. It is an ifrit runner: ready once Ready answers, and
// on a signal it sends SIGTERM, then SIGKILL after StopTimeout.
type Child struct {
	Name        string
	Path        string
	Args        []string
	LogPath     string
	Ready       func(ctx context.Context) error // nil: ready once started
	ReadyWithin time.Duration                   // default 30 s
	StopTimeout time.Duration                   // default 15 s
	// Exited is told when the process dies on its own; nil ignores it.
	Exited func(name string, err error)

	cmd *exec.Cmd
}

// Run implements ifrit.Runner.
func (c *Child) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if err := os.MkdirAll(filepath.Dir(c.LogPath), 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	c.cmd = exec.Command(c.Path, c.Args...)
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	// Its own process group: Ctrl-C reaches diego, which stops children in order.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", c.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()

	if c.Ready != nil {
		within := c.ReadyWithin
		if within == 0 {
			within = 30 * time.Second
		}
		if err := c.waitReady(within, exited); err != nil {
			c.stop(exited)
			return fmt.Errorf("%s did not become ready (see %s): %w", c.Name, c.LogPath, err)
		}
	}
	close(ready)

	select {
	case err := <-exited:
		// A dead daemon is a real failure for the rest of the cluster to
		// survive (a lost cell, a killed auctioneer): it is reported, not
		// propagated, so the cluster keeps running until it is stopped.
		if c.Exited != nil {
			c.Exited(c.Name, err)
		}
		<-signals
		return nil
	case <-signals:
		return c.stop(exited)
	}
}

func (c *Child) waitReady(within time.Duration, exited chan error) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		last = c.Ready(ctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

func (c *Child) stop(exited chan error) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	timeout := c.StopTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		return fmt.Errorf("%s did not stop within %s and was killed", c.Name, timeout)
	}
}

// Pid is the child's process id once started.
func (c *Child) Pid() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// httpReady is a Ready check that wants a 2xx from url.
func httpReady(client *http.Client, url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		return nil
	}
}
