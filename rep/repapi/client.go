package repapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/diego-runtime/diego/models"
)

// Client talks to one rep. Build its http.Client with internal/transport.
type Client struct {
	HTTP    *http.Client
	BaseURL string // e.g. http://10.0.0.5:1800
}

// NewClient returns a client for the rep at baseURL.
func NewClient(httpClient *http.Client, baseURL string) *Client {
	return &Client{HTTP: httpClient, BaseURL: strings.TrimRight(baseURL, "/")}
}

// State fetches the cell's state.
func (c *Client) State(ctx context.Context) (CellState, error) {
	var state CellState
	err := c.do(ctx, http.MethodGet, StatePath, nil, &state)
	return state, err
}

// Perform hands the cell work and returns what it could not take.
func (c *Client) Perform(ctx context.Context, work Work) (Work, error) {
	var failed Work
	err := c.do(ctx, http.MethodPost, WorkPath, work, &failed)
	return failed, err
}

// StopLRPInstance stops one instance on the cell.
func (c *Client) StopLRPInstance(ctx context.Context, key models.ActualLRPKey, instance models.ActualLRPInstanceKey) error {
	path := strings.NewReplacer("{process_guid}", key.ProcessGuid, "{instance_guid}", instance.InstanceGuid).Replace(StopLRPPath)
	return c.do(ctx, http.MethodPost, path, nil, nil)
}

// CancelTask stops a task's container on the cell.
func (c *Client) CancelTask(ctx context.Context, taskGuid string) error {
	path := strings.Replace(CancelTaskPath, "{task_guid}", taskGuid, 1)
	return c.do(ctx, http.MethodPost, path, nil, nil)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("rep %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("rep %s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var apiErr models.Error
		if json.Unmarshal(data, &apiErr) == nil && apiErr.Name != "" {
			apiErr.Status = resp.StatusCode
			return &apiErr
		}
		return fmt.Errorf("rep %s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("rep %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}
