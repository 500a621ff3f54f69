package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// Client implements API over JSON/HTTP against one or more BBS servers. Several
// BBS processes serve at once against one etcd, so a request that cannot reach
// one (refused, timed out, or the BBS answers 503) is tried on the next; the
// last one that answered is tried first next time.
//
// A BBS nobody can reach surfaces as models.ErrServiceUnavailable (wrapping the
// transport error); every other failure is the *models.Error the BBS sent. A
// write that timed out may have been applied before it is retried on the next
// BBS, so callers treat AlreadyExists and state conflicts after a failover as
// "someone (maybe we) got there first", as they must anyway with several
// writers.
type Client struct {
	urls    []string
	http    *http.Client
	stream  *http.Client // no overall timeout: event streams stay open
	current atomic.Int64
}

var _ API = (*Client)(nil)

// NewClient returns a client for the BBS at urls (e.g. "http://127.0.0.1:8889").
// Build httpClient with internal/transport; its Timeout bounds each request. A
// nil httpClient means plain HTTP with a 30 s timeout.
func NewClient(httpClient *http.Client, urls ...string) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	stream := *httpClient
	stream.Timeout = 0
	trimmed := make([]string, 0, len(urls))
	for _, u := range urls {
		trimmed = append(trimmed, strings.TrimRight(u, "/"))
	}
	return &Client{urls: trimmed, http: httpClient, stream: &stream}
}

// each calls try on every URL in turn, starting from the last one that worked,
// until one answers something other than "unavailable".
func (c *Client) each(ctx context.Context, try func(base string) error) error {
	n := int64(len(c.urls))
	if n == 0 {
		return models.ErrServiceUnavailable.WithMessage("no BBS URL configured")
	}
	start := c.current.Load()
	var err error
	for i := int64(0); i < n; i++ {
		idx := (start + i) % n
		err = try(c.urls[idx])
		if err == nil || !errors.Is(err, models.ErrServiceUnavailable) {
			c.current.Store(idx)
			return err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return err
}

func unreachable(base string, err error) error {
	return fmt.Errorf("%w: %w", models.ErrServiceUnavailable.WithMessage("BBS at %s is unreachable", base), err)
}

func (c *Client) call(ctx context.Context, path string, in *Request, out *Response) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", path, err)
	}
	return c.each(ctx, func(base string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			return unreachable(base, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return decodeError(resp)
		}
		if out == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return unreachable(base, fmt.Errorf("decoding %s response: %w", path, err))
		}
		return nil
	})
}

// decodeError reads a {"name","message"} body back into a *models.Error.
func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	var e models.Error
	if err := json.Unmarshal(data, &e); err != nil || e.Name == "" {
		if resp.StatusCode == http.StatusServiceUnavailable {
			return models.ErrServiceUnavailable.WithMessage("%s", strings.TrimSpace(string(data)))
		}
		return models.ErrUnknown.WithMessage("status %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
	}
	e.Status = resp.StatusCode
	return &e
}

// Ping answers nil when some BBS is up and can reach etcd.
func (c *Client) Ping(ctx context.Context) error {
	return c.each(ctx, func(base string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+PingPath, nil)
		if err != nil {
			return err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return unreachable(base, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return decodeError(resp)
		}
		return nil
	})
}

// SubscribeToEvents opens the event stream; it returns once the BBS is
// subscribed, so every change committed after the call returns is delivered.
func (c *Client) SubscribeToEvents(ctx context.Context, _ lager.Logger, afterID int64) (EventSource, error) {
	var source EventSource
	err := c.each(ctx, func(base string) error {
		streamCtx, cancel := context.WithCancel(ctx)
		url := base + EventsPath + "?after=" + strconv.FormatInt(afterID, 10)
		req, err := http.NewRequestWithContext(streamCtx, http.MethodGet, url, nil)
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Accept", "text/event-stream")
		resp, err := c.stream.Do(req)
		if err != nil {
			cancel()
			return unreachable(base, err)
		}
		if resp.StatusCode != http.StatusOK {
			defer cancel()
			defer resp.Body.Close()
			return decodeError(resp)
		}
		source = NewSSESource(resp.Body, cancel)
		return nil
	})
	return source, err
}
