// Package shellapi is the rep's side door into a running instance, for the
// receptor's SSH server only: run a process in the instance's container
// (with input, optionally on a terminal) and open a TCP connection from
// inside it. Both switch the HTTP/1.1 connection to garden's own protocols
// (docs/ssh.md), so the rep relays frames and bytes as garden sends them.
package shellapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/models"
)

// Paths served by the rep; the caller must hold the receptor's certificate.
const (
	ProcessPath = "/v1/instances/{instance_guid}/processes"
	DialPath    = "/v1/instances/{instance_guid}/dial"
)

// ProcessRequest is a process to run in an instance.
type ProcessRequest struct {
	// Command is run by /bin/sh -c; empty starts a login shell.
	Command string `json:"command,omitempty"`
	// TTY runs it on a terminal of this size; nil: pipes.
	TTY *garden.WindowSize `json:"tty,omitempty"`
	// Env is added to the container's environment (e.g. TERM).
	Env []string `json:"env,omitempty"`
}

// Client calls one rep. Its HTTP client must have no overall timeout (a
// session lasts as long as its user wants).
type Client struct {
	HTTP    *http.Client
	BaseURL string
}

// Run starts req in the instance and relays pio; the process's Resize and
// Signal travel on the same connection, and its input ends when pio.Stdin does.
func (c *Client) Run(ctx context.Context, instanceGuid string, req ProcessRequest, pio garden.ProcessIO) (garden.Process, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	rwc, err := c.upgrade(ctx, strings.Replace(ProcessPath, "{instance_guid}", url.PathEscape(instanceGuid), 1), body, garden.UpgradeProcess)
	if err != nil {
		return nil, err
	}
	p, err := garden.FollowProcessConn(rwc, rwc, pio)
	if err != nil {
		rwc.Close()
		return nil, fmt.Errorf("rep: %w", err)
	}
	return p, nil
}

// Dial connects to address (IP:port, or localhost:port for the instance's
// own loopback) from inside the instance's container.
func (c *Client) Dial(ctx context.Context, instanceGuid, address string) (io.ReadWriteCloser, error) {
	path := strings.Replace(DialPath, "{instance_guid}", url.PathEscape(instanceGuid), 1) + "?address=" + url.QueryEscape(address)
	return c.upgrade(ctx, path, nil, garden.UpgradeDial)
}

// upgrade posts body and switches the connection to proto; the answer's
// body is then the connection both ways.
func (c *Client) upgrade(ctx context.Context, path string, body []byte, proto string) (io.ReadWriteCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", proto)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rep POST %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			return rwc, nil
		}
		resp.Body.Close()
		return nil, errors.New("rep: the switched connection cannot be written")
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var apiErr models.Error
	if json.Unmarshal(data, &apiErr) == nil && apiErr.Name != "" {
		apiErr.Status = resp.StatusCode
		return nil, &apiErr
	}
	return nil, fmt.Errorf("rep POST %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(data))
}
