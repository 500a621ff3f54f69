package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"code.cloudfoundry.org/clock"
	"golang.org/x/sys/unix"
)

// requestState travels in a proxied request's context from the handler to the
// transport and back. Only the goroutine serving the request touches it.
type requestState struct {
	host      string
	route     string // metrics label: the host, or a fixed word when unrouted
	pool      *Pool
	requestID string
	endpoint  *Endpoint // the last endpoint tried
	tries     int
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// ErrNoEndpoints is returned when a route has no endpoint left to try
// before any attempt was made (it emptied after the lookup).
var ErrNoEndpoints = errors.New("router: no endpoints")

// AllEndpointsFailedError says that every attempt at a request failed before
// a response arrived.
type AllEndpointsFailedError struct {
	Host  string
	Tries int
	Last  error
}

func (e *AllEndpointsFailedError) Error() string {
	return fmt.Sprintf("all %d endpoint attempts for %s failed; last: %v", e.Tries, e.Host, e.Last)
}

func (e *AllEndpointsFailedError) Unwrap() error { return e.Last }

// dialError marks a failure to open a connection: nothing of the request can
// have been sent, so another endpoint may always be tried.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return fmt.Sprintf("dialing %s: %v", e.addr, e.err) }
func (e *dialError) Unwrap() error { return e.err }

// newBackendTransport returns the HTTP/1.1 transport to endpoints: a short
// dial timeout, generous keep-alive pools, and no transparent compression (the
// client's Accept-Encoding passes through untouched).
func newBackendTransport(dialTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Control: setUserTimeout}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &dialError{addr: addr, err: err}
			}
			return conn, nil
		},
		MaxIdleConns:          10000,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// maxConnectFailures bounds the attempts per request that fail to connect,
// which do not use up tries: nothing of the request left the router, and the
// endpoint is held off for every request at once, so each costs one dial.
const maxConnectFailures = 10

// maxReplayedBody is the largest request body of an idempotent request kept
// in memory so that the request can be sent again.
const maxReplayedBody = 64 << 10

// maxBufferedBody is the largest response body read whole before the
// response is handed on, so that a backend dying in the middle of it costs a
// retry rather than a truncated answer.
const maxBufferedBody = 64 << 10

// retryTransport sends a request to endpoints of its route, trying another
// endpoint when an attempt failed in a way that cannot have reached the
// application, or that does not matter for a replayable request (the retry
// rule, above idempotent), and keeping a failed endpoint out of selection
// for holdoff.
// The first attempt goes where the selector says; retries go by pickRetry.
type retryTransport struct {
	inner    http.RoundTripper
	selector Selector
	table    *Table // the route's current pool, for retries
	tries    int
	attempts int // bound on all attempts, dials included; 0 = none
	holdoff  time.Duration
	clock    clock.Clock
	onRetry  func(route string)
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateFrom(req.Context())
	if st == nil || st.pool == nil {
		return nil, errors.New("router: request carries no route")
	}
	// A replayable request may be sent again after it reached an endpoint:
	// an idempotent one without a body, or with a small body of known
	// length, read here once and sent from memory on every attempt.
	// Another body can only follow a failed dial, unread.
	replayable := idempotent(req.Method)
	var body *keepOpenBody
	var saved []byte
	if req.Body != nil && req.Body != http.NoBody {
		if replayable && req.ContentLength > 0 && req.ContentLength <= maxReplayedBody {
			var err error
			if saved, err = readRequestBody(req); err != nil {
				return nil, err
			}
		} else {
			body = &keepOpenBody{rc: req.Body}
			replayable = false
		}
	}

	// Addresses, not pointers: an endpoint unregistered and registered
	// again while the request runs is still the same backend.
	var tried [8]string
	triedList := tried[:0]
	usable := func(e *Endpoint) bool {
		for _, a := range triedList {
			if a == e.Addr {
				return false
			}
		}
		return true
	}
	var failed [4]string
	failedHosts := failed[:0]
	failedHost := func(h string) bool {
		for _, x := range failedHosts {
			if x == h {
				return true
			}
		}
		return false
	}

	pool := st.pool
	var lastErr error
	sent, connectFailures := 0, 0
	for attempt := 0; ; attempt++ {
		now := t.clock.Now()
		var e *Endpoint
		if attempt == 0 {
			e = t.selector.Select(pool, usable, now)
			if e == nil {
				// The pool emptied since the lookup; the route may live
				// on in a new one.
				if current := t.table.Lookup(st.host); current != nil && current != pool {
					pool = current
					e = t.selector.Select(pool, usable, now)
				}
			}
		} else {
			// The route may have moved to a new pool since the lookup
			// (its last endpoint went, then others came).
			if current := t.table.Lookup(st.host); current != nil {
				pool = current
			}
			e = pickRetry(pool, usable, failedHost, now)
		}
		if e == nil {
			break
		}
		triedList = append(triedList, e.Addr)
		st.endpoint, st.tries = e, attempt+1
		if attempt > 0 && t.onRetry != nil {
			t.onRetry(st.route)
		}

		out := new(http.Request)
		*out = *req
		u := *req.URL
		u.Host = e.Addr
		out.URL = &u
		if body != nil {
			out.Body = body
		}
		if saved != nil {
			out.Body = io.NopCloser(bytes.NewReader(saved))
			out.GetBody = replayer(saved)
		}
		resp, err := t.inner.RoundTrip(out)
		if err == nil && replayable {
			err = bufferBody(req, resp)
		}
		if err == nil {
			e.markAnswered(t.clock.Now())
			return resp, nil
		}
		lastErr = err
		if req.Context().Err() != nil {
			// The client went away; the endpoint is not to blame.
			break
		}
		e.markFailed(now.Add(t.holdoff))
		if h := e.host(); !failedHost(h) && len(failedHosts) < 16 {
			failedHosts = append(failedHosts, h)
		}
		if t.attempts > 0 && attempt+1 >= t.attempts {
			break
		}
		var de *dialError
		if errors.As(err, &de) {
			connectFailures++
			if connectFailures >= maxConnectFailures {
				break
			}
			continue
		}
		sent++
		if !replayable || sent >= t.tries {
			break
		}
	}
	if body != nil {
		body.rc.Close()
	}
	if lastErr == nil {
		return nil, ErrNoEndpoints
	}
	if req.Context().Err() != nil {
		return nil, lastErr
	}
	return nil, &AllEndpointsFailedError{Host: st.host, Tries: len(triedList), Last: lastErr}
}

// The retry rule: a request may go to another endpoint when the connection
// could not be opened (nothing was sent), or when it is replayable (an
// idempotent method, and no body or one kept in memory) and the attempt
// failed before the response was handed on (no response header arrived, or
// the body of a small response broke off).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// readRequestBody reads the whole body of a request that announced its
// length.
func readRequestBody(req *http.Request) ([]byte, error) {
	buf := make([]byte, req.ContentLength)
	if _, err := io.ReadFull(req.Body, buf); err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	return buf, nil
}

// replayer lets the transport itself send a saved body again.
func replayer(saved []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(saved)), nil }
}

// bufferBody reads a small response body of known length whole, so that a
// backend dying in the middle of it is a failed attempt the caller can retry
// before any byte reached the client. Streamed, large and body-less
// responses pass untouched.
func bufferBody(req *http.Request, resp *http.Response) error {
	n := resp.ContentLength
	if n <= 0 || n > maxBufferedBody || req.Method == http.MethodHead || resp.Body == nil ||
		resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		return nil
	}
	// To EOF, not just n bytes, so the connection goes back to the pool;
	// net/http ends the body at its announced length.
	buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead)) // room to read the EOF without growing
	_, err := buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading response body: %w", err)
	}
	if int64(buf.Len()) != n {
		return fmt.Errorf("reading response body: %d of %d bytes: %w", buf.Len(), n, io.ErrUnexpectedEOF)
	}
	resp.Body = io.NopCloser(buf)
	return nil
}

// keepOpenBody lets a request body survive an attempt whose transport closed
// it on a dial failure, so the same unread body can go to the next endpoint.
// The server closes the real body when the handler returns.
type keepOpenBody struct{ rc io.ReadCloser }

func (b *keepOpenBody) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b *keepOpenBody) Close() error               { return nil }

// backendUserTimeout bounds how long sent data may stay unacknowledged on a
// backend connection. Without it a request written on a pooled connection to
// a cell that fell off the network waits for ever; with it the connection
// fails, and an idempotent request is sent again on a fresh connection (whose
// dial fails fast and moves on to another endpoint). A live backend acks at
// once, however slowly it answers, so slow responses are not affected.
const backendUserTimeout = 2 * time.Second

func setUserTimeout(network, address string, c syscall.RawConn) error {
	var sockErr error
	err := c.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(backendUserTimeout/time.Millisecond))
	})
	if err != nil {
		return err
	}
	return sockErr
}
