package garden

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Client talks to a garden over its unix socket. It implements Backend.
type Client struct {
	http   *http.Client
	socket string
}

var _ Backend = (*Client)(nil)

// NewClient returns a client for the garden listening at socketPath.
func NewClient(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{http: &http.Client{Transport: tr}, socket: socketPath}
}

const baseURL = "http://garden"

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("garden: %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("garden: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e Error
		if derr := json.NewDecoder(resp.Body).Decode(&e); derr != nil || e.Name == "" {
			return nil, fmt.Errorf("garden: %s %s: status %d", method, path, resp.StatusCode)
		}
		return nil, &e
	}
	return resp, nil
}

// call sends in as JSON (when not nil) and decodes the answer into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("garden: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.do(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("garden: decoding %s %s: %w", method, path, err)
	}
	return nil
}

func hpath(handle string, rest string) string {
	return "/containers/" + url.PathEscape(handle) + rest
}

func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/ping", nil, nil)
}

func (c *Client) Capacity(ctx context.Context) (Capacity, error) {
	var out Capacity
	return out, c.call(ctx, http.MethodGet, "/capacity", nil, &out)
}

func (c *Client) Create(ctx context.Context, spec ContainerSpec) (ContainerInfo, error) {
	var out ContainerInfo
	return out, c.call(ctx, http.MethodPost, "/containers", spec, &out)
}

func (c *Client) Destroy(ctx context.Context, handle string) error {
	return c.call(ctx, http.MethodDelete, hpath(handle, ""), nil, nil)
}

func (c *Client) List(ctx context.Context, properties map[string]string) ([]string, error) {
	q := url.Values{}
	for k, v := range properties {
		q.Add("property", k+"="+v)
	}
	var out []string
	return out, c.call(ctx, http.MethodGet, "/containers?"+q.Encode(), nil, &out)
}

func (c *Client) Info(ctx context.Context, handle string) (ContainerInfo, error) {
	var out ContainerInfo
	return out, c.call(ctx, http.MethodGet, hpath(handle, "/info"), nil, &out)
}

func (c *Client) Metrics(ctx context.Context, handle string) (Metrics, error) {
	var out Metrics
	return out, c.call(ctx, http.MethodGet, hpath(handle, "/metrics"), nil, &out)
}

func (c *Client) NetIn(ctx context.Context, handle string, rule NetInRule) (PortMapping, error) {
	var out PortMapping
	return out, c.call(ctx, http.MethodPost, hpath(handle, "/net/in"), rule, &out)
}

func (c *Client) NetOut(ctx context.Context, handle string, rule NetOutRule) error {
	return c.call(ctx, http.MethodPost, hpath(handle, "/net/out"), rule, nil)
}

func (c *Client) StreamIn(ctx context.Context, handle, dstPath string, tar io.Reader) error {
	resp, err := c.do(ctx, http.MethodPut, hpath(handle, "/files?path="+url.QueryEscape(dstPath)), tar, "application/x-tar")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *Client) StreamOut(ctx context.Context, handle, srcPath string, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, hpath(handle, "/files?path="+url.QueryEscape(srcPath)), nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("garden: streaming out %s: %w", srcPath, err)
	}
	return nil
}

func (c *Client) Stop(ctx context.Context, handle string, grace time.Duration) error {
	return c.call(ctx, http.MethodPost, hpath(handle, "/stop"), map[string]int64{"grace_ms": grace.Milliseconds()}, nil)
}

// Run starts a process and streams its output into pio. The process keeps
// running if ctx ends or the connection drops; Attach to it again by id.
//
// With pio.Stdin or spec.TTY the process runs on a connection of its own
// (docs/garden.md, "Interactive processes"): input, window sizes and signals
// travel on it, and the process's input ends when that connection closes.
func (c *Client) Run(ctx context.Context, handle string, spec ProcessSpec, pio ProcessIO) (Process, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("garden: encoding process: %w", err)
	}
	if pio.Stdin != nil || spec.TTY != nil {
		conn, br, err := c.dialUpgraded(ctx, http.MethodPost, hpath(handle, "/processes"), b, upgradeProcess)
		if err != nil {
			return nil, err
		}
		p, err := FollowProcessConn(conn, br, pio)
		if err != nil {
			conn.Close()
			return nil, err
		}
		p.(*clientProcess).client, p.(*clientProcess).handle = c, handle
		return p, nil
	}
	resp, err := c.do(ctx, http.MethodPost, hpath(handle, "/processes"), bytes.NewReader(b), "application/json")
	if err != nil {
		return nil, err
	}
	return c.follow(handle, resp, pio)
}

// Attach follows a process started earlier: output from now on and its exit.
func (c *Client) Attach(ctx context.Context, handle, processID string, pio ProcessIO) (Process, error) {
	resp, err := c.do(ctx, http.MethodGet, hpath(handle, "/processes/"+url.PathEscape(processID)), nil, "")
	if err != nil {
		return nil, err
	}
	return c.follow(handle, resp, pio)
}

func (c *Client) follow(handle string, resp *http.Response, pio ProcessIO) (Process, error) {
	kind, payload, err := readFrame(resp.Body)
	if err != nil || kind != frameID {
		resp.Body.Close()
		return nil, fmt.Errorf("garden: reading process id: %w", errors.Join(err, errors.New("no id frame")))
	}
	p := &clientProcess{client: c, handle: handle, id: string(payload), done: make(chan struct{})}
	go p.pump(resp.Body, pio)
	return p, nil
}

type clientProcess struct {
	client *Client
	handle string
	id     string

	done   chan struct{}
	once   sync.Once
	status int
	err    error

	ctl *frameStream // an interactive process's connection; nil otherwise
}

func (p *clientProcess) ID() string { return p.id }

func (p *clientProcess) Wait() (int, error) {
	<-p.done
	return p.status, p.err
}

// Resize sends the terminal's new size (interactive processes only); no
// answer comes back (garden applies it, or ignores it for a process without
// a terminal).
func (p *clientProcess) Resize(size WindowSize) error {
	if p.ctl == nil {
		return NewInvalidSpecError("process %s was not started with a terminal by this client", p.id)
	}
	b, err := json.Marshal(size)
	if err != nil {
		return err
	}
	return p.ctl.write(frameResize, b)
}

func (p *clientProcess) Signal(sig syscall.Signal) error {
	if p.ctl != nil && p.client == nil {
		return p.ctl.write(frameSignal, []byte(strconv.Itoa(int(sig))))
	}
	return p.client.call(context.Background(), http.MethodPost,
		hpath(p.handle, "/processes/"+url.PathEscape(p.id)+"/signal"), map[string]int{"signal": int(sig)}, nil)
}

func (p *clientProcess) pump(body io.ReadCloser, pio ProcessIO) {
	defer body.Close()
	finish := func(status int, err error) {
		p.once.Do(func() {
			p.status, p.err = status, err
			close(p.done)
		})
	}
	for {
		kind, payload, err := readFrame(body)
		if err != nil {
			finish(-1, fmt.Errorf("garden: process %s stream lost: %w", p.id, err))
			return
		}
		switch kind {
		case frameStdout:
			if pio.Stdout != nil {
				_, _ = pio.Stdout.Write(payload)
			}
		case frameStderr:
			if pio.Stderr != nil {
				_, _ = pio.Stderr.Write(payload)
			}
		case frameExit:
			status, err := strconv.Atoi(string(payload))
			finish(status, err)
			return
		case frameError:
			var e Error
			if err := json.Unmarshal(payload, &e); err != nil {
				finish(-1, fmt.Errorf("garden: decoding process error: %w", err))
				return
			}
			finish(-1, &e)
			return
		}
	}
}

// Dial opens a TCP connection to address (an IP and port; "localhost" is
// the container's own loopback) from inside the container's network
// namespace: it reaches what the container itself reaches, no more.
func (c *Client) Dial(ctx context.Context, handle, address string) (net.Conn, error) {
	path := hpath(handle, "/dial?address="+url.QueryEscape(address))
	conn, br, err := c.dialUpgraded(ctx, http.MethodPost, path, nil, upgradeDial)
	if err != nil {
		return nil, err
	}
	return &BufferedConn{Conn: conn, R: br}, nil
}

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return http.NoBody
	}
	return bytes.NewReader(b)
}
