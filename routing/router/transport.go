package router

import (
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

// retryTransport sends a request to endpoints of its route in the order the
// selector chooses, trying another endpoint when an attempt failed in a way
// that cannot have reached the application (see retryable), and keeping a
// failed endpoint out of selection for holdoff.
type retryTransport struct {
	inner    http.RoundTripper
	selector Selector
	tries    int
	holdoff  time.Duration
	clock    clock.Clock
	onRetry  func(route string)
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateFrom(req.Context())
	if st == nil || st.pool == nil {
		return nil, errors.New("router: request carries no route")
	}
	var body *keepOpenBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &keepOpenBody{rc: req.Body}
	}
	var tried [8]*Endpoint // avoids an allocation for the usual few tries
	triedList := tried[:0]
	usable := func(e *Endpoint) bool {
		for _, x := range triedList {
			if x == e {
				return false
			}
		}
		return true
	}

	var lastErr error
	for attempt := 0; attempt < t.tries; attempt++ {
		now := t.clock.Now()
		e := t.selector.Select(st.pool, usable, now)
		if e == nil {
			break
		}
		triedList = append(triedList, e)
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
		resp, err := t.inner.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if req.Context().Err() != nil {
			// The client went away; the endpoint is not to blame.
			break
		}
		e.markFailed(now.Add(t.holdoff))
		if !retryable(req, err) {
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

// retryable is the retry rule: a request may go to another endpoint when the
// connection could not be opened (nothing was sent), or when it carries no
// body, has an idempotent method, and the attempt failed before any response
// byte (RoundTrip returned an error, so no response header was read).
func retryable(req *http.Request, err error) bool {
	var de *dialError
	if errors.As(err, &de) {
		return true
	}
	noBody := req.Body == nil || req.Body == http.NoBody
	return noBody && idempotent(req.Method)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return false
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
