package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
)

// Defaults for Options.
const (
	DefaultRequestTimeout    = 10 * time.Second
	DefaultMaxBodyBytes      = 4 << 20
	DefaultKeepaliveInterval = 15 * time.Second
)

// Options tunes the handler; zero values mean the defaults above.
type Options struct {
	// RequestTimeout bounds each call into the DB (default 10 s); a call that
	// runs out answers 503 ServiceUnavailable. It does not apply to /v1/events.
	RequestTimeout time.Duration
	// MaxBodyBytes caps a request body (default 4 MiB); larger answers 413.
	MaxBodyBytes int64
	// KeepaliveInterval is how often an idle event stream gets a comment
	// (default 15 s), so dead clients are noticed.
	KeepaliveInterval time.Duration
	// Registerer receives the request metrics; nil means none are kept.
	Registerer prometheus.Registerer
}

type method func(ctx context.Context, logger lager.Logger, db client.API, req *client.Request) (*client.Response, error)

// Handler serves client.API over HTTP.
type Handler struct {
	logger lager.Logger
	db     client.API
	opts   Options
	mux    *http.ServeMux

	closing   chan struct{} // closed once streams must end
	closeOnce sync.Once

	requests *prometheus.CounterVec   // by path and status
	duration *prometheus.HistogramVec // by path
}

// New returns the BBS handler over db.
func New(logger lager.Logger, db client.API, opts Options) *Handler {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.KeepaliveInterval <= 0 {
		opts.KeepaliveInterval = DefaultKeepaliveInterval
	}
	h := &Handler{logger: logger.Session("bbs-server"), db: db, opts: opts, mux: http.NewServeMux(), closing: make(chan struct{})}
	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diego_bbs_requests_total", Help: "BBS API requests answered, by path and status.",
	}, []string{"path", "status"})
	h.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "diego_bbs_request_duration_seconds", Help: "Time to answer a BBS API request, by path.",
	}, []string{"path"})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(h.requests, h.duration)
	}
	h.mux.HandleFunc("GET "+client.PingPath, h.ping)
	h.mux.HandleFunc("GET "+client.EventsPath, h.events)
	for path, m := range methods() {
		h.mux.Handle("POST "+path, h.rpc(path, m))
	}
	return h
}

// Run implements ifrit.Runner: on a signal it ends every open event stream, so
// that the HTTP server behind it can shut down at once. Put it after the server
// in an ordered group (groups stop in reverse order).
func (h *Handler) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	<-signals
	h.CloseStreams()
	return nil
}

// CloseStreams ends every open event stream and any opened later.
func (h *Handler) CloseStreams() { h.closeOnce.Do(func() { close(h.closing) }) }

// ServeHTTP routes to the method's handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) ping(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.RequestTimeout)
	defer cancel()
	if err := h.db.Ping(ctx); err != nil {
		writeError(w, h.logger.Session("ping"), unavailable(err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) rpc(path string, m method) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger := h.logger.Session("request", lager.Data{"path": path})
		start := time.Now()
		status := http.StatusOK
		defer func() {
			h.requests.WithLabelValues(path, strconv.Itoa(status)).Inc()
			h.duration.WithLabelValues(path).Observe(time.Since(start).Seconds())
		}()
		var req client.Request
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)).Decode(&req); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				status = writeError(w, logger, models.ErrBodyTooLarge)
				return
			}
			status = writeError(w, logger, models.ErrInvalidJSON.WithMessage("%s", err.Error()))
			return
		}
		if err := authorize(r, path, &req); err != nil {
			logger.Info("forbidden", lager.Data{"error": err.Error()})
			status = writeError(w, logger, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.RequestTimeout)
		defer cancel()
		resp, err := m(ctx, logger, h.db, &req)
		if err != nil {
			status = writeError(w, logger, unavailable(err))
			return
		}
		if resp == nil {
			resp = &client.Response{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// unavailable turns an untyped timeout into ServiceUnavailable: the DB did not
// answer within the request timeout, which means etcd is out of reach.
func unavailable(err error) error {
	var typed *models.Error
	if !errors.As(err, &typed) && errors.Is(err, context.DeadlineExceeded) {
		return models.ErrServiceUnavailable.WithMessage("the store did not answer in time: %s", err.Error())
	}
	return err
}

func writeError(w http.ResponseWriter, logger lager.Logger, err error) int {
	var verr models.ValidationError
	if errors.As(err, &verr) {
		var typed *models.Error
		if !errors.As(err, &typed) {
			err = models.ErrInvalidRequest.WithMessage("%s", verr.Error())
		}
	}
	e := models.AsError(err)
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		logger.Error("failed", err)
	} else {
		logger.Debug("refused", lager.Data{"error": err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
	return status
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	logger := h.logger.Session("events")
	if err := authorize(r, client.EventsPath, nil); err != nil {
		logger.Info("forbidden", lager.Data{"error": err.Error()})
		writeError(w, logger, err)
		return
	}
	var after int64
	if s := r.URL.Query().Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, logger, models.ErrInvalidRequest.WithMessage("after must be a non-negative integer"))
			return
		}
		after = n
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-h.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	source, err := h.db.SubscribeToEvents(ctx, logger, after)
	if err != nil {
		writeError(w, logger, unavailable(err))
		return
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	client.StreamEvents(ctx, w, source, h.opts.KeepaliveInterval)
}
