package router

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/routing/messages"
)

// Response headers the router adds to answers it makes itself.
const (
	HeaderRouterError = "X-Diego-Router-Error"
	HeaderRequestID   = "X-Request-Id"
)

// proxy is the router's HTTP handler.
type proxy struct {
	table     *Table
	reverse   *httputil.ReverseProxy
	clock     clock.Clock
	metrics   *metrics
	logger    lager.Logger
	accessLog *accessLog
}

func newProxy(logger lager.Logger, clk clock.Clock, table *Table, m *metrics, transport http.RoundTripper, access *accessLog) *proxy {
	p := &proxy{table: table, clock: clk, metrics: m, logger: logger, accessLog: access}
	p.reverse = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      transport,
		ModifyResponse: addRequestID,
		ErrorHandler:   p.proxyError,
		ErrorLog:       log.New(lagerWriter{logger.Session("reverse-proxy")}, "", 0),
		// Without a pool every response allocates a 32 KiB copy buffer.
		BufferPool: &bufferPool{},
		// FlushInterval stays 0: ReverseProxy already flushes every write
		// of a streamed response (no Content-Length, or an event stream),
		// and buffering the rest saves a write per response.
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := p.clock.Now()
	rec := &recorder{ResponseWriter: w}
	host, _ := messages.NormalizeHost(r.Host)
	st := &requestState{host: host, route: host, requestID: r.Header.Get(HeaderRequestID)}
	if st.requestID == "" || len(st.requestID) > 200 {
		st.requestID = newRequestID()
	}
	defer func() {
		if v := recover(); v != nil {
			// ReverseProxy aborts with ErrAbortHandler when copying a
			// response fails (usually: the client went away).
			rec.aborted = true
			p.finish(st, rec, r, start)
			panic(v)
		}
		p.finish(st, rec, r, start)
	}()

	rec.conn = framingConnFrom(r.Context())
	if rec.conn != nil && rec.conn.conflicting() {
		st.route = routeInvalid
		w.Header().Set("Connection", "close")
		p.refuse(rec, st, http.StatusBadRequest, "invalid_request",
			"400 Bad Request: both Content-Length and Transfer-Encoding are set\n")
		return
	}
	if host == "" {
		st.route = routeInvalid
		p.refuse(rec, st, http.StatusBadRequest, "invalid_request", "400 Bad Request: no Host header\n")
		return
	}
	pool := p.table.Lookup(host)
	if pool == nil || pool.Len() == 0 {
		st.route = routeUnknown
		p.refuse(rec, st, http.StatusNotFound, "unknown_route",
			fmt.Sprintf("404 Not Found: no route for host %q\n", host))
		return
	}
	st.pool = pool
	p.reverse.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}

func (p *proxy) refuse(w http.ResponseWriter, st *requestState, status int, kind, body string) {
	w.Header().Set(HeaderRouterError, kind)
	w.Header().Set(HeaderRequestID, st.requestID)
	http.Error(w, body, status)
}

func (p *proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateFrom(r.Context())
	if r.Context().Err() != nil {
		// The client is gone; nobody reads an answer.
		if rec, ok := w.(*recorder); ok {
			rec.clientGone = true
		}
		return
	}
	if errors.Is(err, ErrNoEndpoints) {
		st.route = routeUnknown
		p.refuse(w, st, http.StatusNotFound, "unknown_route",
			fmt.Sprintf("404 Not Found: no route for host %q\n", st.host))
		return
	}
	p.logger.Info("backend-failed", lager.Data{"host": st.host, "request_id": st.requestID, "error": err.Error()})
	p.refuse(w, st, http.StatusBadGateway, "endpoint_failure",
		fmt.Sprintf("502 Bad Gateway: %v\n", err))
}

func (p *proxy) finish(st *requestState, rec *recorder, r *http.Request, start time.Time) {
	elapsed := p.clock.Since(start)
	status := rec.status
	switch {
	case rec.clientGone || (rec.aborted && status == 0):
		status = 499 // client closed the request
	case status == 0:
		status = http.StatusOK
	}
	p.metrics.requests.WithLabelValues(st.route, statusClass(status)).Inc()
	p.metrics.latency.WithLabelValues(st.route).Observe(elapsed.Seconds())
	p.accessLog.write(st, r, status, rec.bytes, elapsed, start)
}

// rewrite builds the outbound request: the transport chooses the endpoint,
// the Host header is kept, forwarding headers are appended or set.
func rewrite(pr *httputil.ProxyRequest) {
	st := stateFrom(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = st.host // replaced by the endpoint's address per attempt
	pr.Out.Host = pr.In.Host
	if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
	// A load balancer in front may have terminated TLS: keep what it said.
	if proto := pr.In.Header.Get("X-Forwarded-Proto"); proto == "http" || proto == "https" {
		pr.Out.Header.Set("X-Forwarded-Proto", proto)
	}
	pr.Out.Header.Set(HeaderRequestID, st.requestID)
}

func addRequestID(resp *http.Response) error {
	if resp.Header.Get(HeaderRequestID) == "" {
		if st := stateFrom(resp.Request.Context()); st != nil {
			resp.Header.Set(HeaderRequestID, st.requestID)
		}
	}
	return nil
}

// newRequestID returns a random (version 4) UUID. Request ids need to be
// unique, not secret, so the fast runtime generator is enough.
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = (b[6] & 0x0f) | 0x40 // version 4
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 4122 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// recorder notes the status and size of a response. Unwrap lets
// http.ResponseController reach the real writer for Flush and Hijack
// (streaming and WebSocket upgrades).
type recorder struct {
	http.ResponseWriter
	status     int
	bytes      int64
	clientGone bool
	aborted    bool
	conn       *framingConn // nil when not served through framingListener
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 || r.status < 200 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush and Hijack are implemented directly too, for callers that use type
// assertions rather than http.ResponseController.
func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }

// Hijack happens only for a switched protocol, before the 101 reaches the
// client, so the framing watcher stops before any frame arrives.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if r.conn != nil {
		r.conn.hijacked()
	}
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

// accessLog writes one line per request. A nil writer logs through lager.
type accessLog struct {
	mu     sync.Mutex
	w      io.Writer
	logger lager.Logger
	buf    []byte
}

func (a *accessLog) write(st *requestState, r *http.Request, status int, bytes int64, elapsed time.Duration, start time.Time) {
	backend, app, tries := "-", "-", st.tries
	if st.endpoint != nil {
		backend = st.endpoint.Addr
		if st.endpoint.App != "" {
			app = st.endpoint.App
		}
	}
	if a.w == nil {
		a.logger.Info("request", lager.Data{"host": st.host, "method": r.Method, "path": r.URL.RequestURI(),
			"status": status, "bytes": bytes, "duration_ms": float64(elapsed.Microseconds()) / 1000,
			"backend": backend, "app": app, "tries": tries, "request_id": st.requestID, "remote": r.RemoteAddr})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.buf[:0]
	b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, " host="...)
	b = strconv.AppendQuote(b, st.host)
	b = append(b, " method="...)
	b = append(b, r.Method...)
	b = append(b, " path="...)
	b = strconv.AppendQuote(b, r.URL.RequestURI())
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, float64(elapsed.Microseconds())/1000, 'f', 3, 64)
	b = append(b, " backend="...)
	b = append(b, backend...)
	b = append(b, " app="...)
	b = strconv.AppendQuote(b, app)
	b = append(b, " tries="...)
	b = strconv.AppendInt(b, int64(tries), 10)
	b = append(b, " request_id="...)
	b = strconv.AppendQuote(b, st.requestID)
	b = append(b, " remote="...)
	b = append(b, r.RemoteAddr...)
	b = append(b, '\n')
	a.buf = b
	_, _ = a.w.Write(b)
}

// bufferPool recycles ReverseProxy's response copy buffers.
type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

// lagerWriter turns the standard library's log lines into lager events.
type lagerWriter struct{ logger lager.Logger }

func (l lagerWriter) Write(p []byte) (int, error) {
	l.logger.Info("log", lager.Data{"message": string(p)})
	return len(p), nil
}
