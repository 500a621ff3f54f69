// Package auctioneerapi is the auctioneer's wire API: the BBS (and the converger,
// through the BBS) asks it to place LRP indices and tasks. It imports only models.
package auctioneerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/diego-runtime/diego/models"
)

// Paths served by the active auctioneer. Both answer 202 once the requests are
// queued; a standby auctioneer answers 503.
const (
	LRPAuctionsPath  = "/v1/lrps"
	TaskAuctionsPath = "/v1/tasks"
)

// Client sends start requests to the active auctioneer. Locate returns its base
// URL (the BBS reads it from the auctioneer's lock record).
type Client struct {
	HTTP   *http.Client
	Locate func(ctx context.Context) (string, error)
}

// RequestLRPAuctions queues LRP start requests.
func (c *Client) RequestLRPAuctions(ctx context.Context, reqs []*models.LRPStartRequest) error {
	return c.post(ctx, LRPAuctionsPath, reqs)
}

// RequestTaskAuctions queues task start requests.
func (c *Client) RequestTaskAuctions(ctx context.Context, reqs []*models.TaskStartRequest) error {
	return c.post(ctx, TaskAuctionsPath, reqs)
}

func (c *Client) post(ctx context.Context, path string, body any) error {
	base, err := c.Locate(ctx)
	if err != nil {
		return fmt.Errorf("locating the auctioneer: %w", err)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("auctioneer POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("auctioneer POST %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
