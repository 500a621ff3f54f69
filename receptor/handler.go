package receptor

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/internal/version"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor/dashboard"
)

// Defaults for Options.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultKeepaliveInterval = 15 * time.Second
)

// BBS is what the receptor needs from the BBS (a *client.Client in production).
type BBS interface {
	StoreHealth(ctx context.Context) (*models.StoreHealth, error)
	UpsertDomain(ctx context.Context, logger lager.Logger, domain string, ttlSeconds int) error
	Domains(ctx context.Context, logger lager.Logger) ([]string, error)
	Cells(ctx context.Context, logger lager.Logger) ([]*models.CellPresence, error)

	DesireLRP(ctx context.Context, logger lager.Logger, lrp *models.DesiredLRP) error
	UpdateDesiredLRP(ctx context.Context, logger lager.Logger, processGuid string, update models.DesiredLRPUpdate) error
	RemoveDesiredLRP(ctx context.Context, logger lager.Logger, processGuid string) error
	DesiredLRPs(ctx context.Context, logger lager.Logger, filter models.DesiredLRPFilter) ([]*models.DesiredLRP, error)
	DesiredLRPByProcessGuid(ctx context.Context, logger lager.Logger, processGuid string) (*models.DesiredLRP, error)
	ActualLRPs(ctx context.Context, logger lager.Logger, filter models.ActualLRPFilter) ([]*models.ActualLRP, error)
	KillActualLRP(ctx context.Context, logger lager.Logger, key models.ActualLRPKey) error

	DesireTask(ctx context.Context, logger lager.Logger, taskGuid, domain string, def *models.TaskDefinition) error
	Tasks(ctx context.Context, logger lager.Logger, filter models.TaskFilter) ([]*models.Task, error)
	TaskByGuid(ctx context.Context, logger lager.Logger, taskGuid string) (*models.Task, error)
	CancelTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	ResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	DeleteTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	RevertResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error
	RenewResolvingTask(ctx context.Context, logger lager.Logger, taskGuid string) error

	SubscribeToEvents(ctx context.Context, logger lager.Logger, afterID int64) (client.EventSource, error)
}

var _ BBS = (*client.Client)(nil)

// Options configures the handler; zero values mean the defaults.
type Options struct {
	// Username and Password turn on basic auth when Username is set. Default off.
	Username string
	Password string
	// CORSOrigins lists origins allowed to call the API from a browser. A
	// listed origin is answered with credentials allowed; "*" lets any other
	// origin read answers, never with credentials. Default none (no CORS headers).
	CORSOrigins []string
	// AllowedHosts, when set, are the only names (or addresses) a request's
	// Host may carry, the port aside; any other answers 421 HostNotAllowed
	// (DNS rebinding). Default empty: any Host.
	AllowedHosts []string
	// MaxStreamsPerClient caps the event and log streams one client (its
	// basic-auth user, else its remote IP) holds open at once; beyond it a
	// stream answers 429 TooManyStreams. Default 16.
	MaxStreamsPerClient int
	// MaxBodyBytes caps a request body (default 1 MiB); larger answers 413.
	MaxBodyBytes int64
	// KeepaliveInterval is how often an idle event stream gets a comment (default 15 s).
	KeepaliveInterval time.Duration
	// Logs serves GET /v1/logs/{log_guid}; nil answers 501 NotImplemented.
	Logs http.Handler
	// Metrics answers GET /v1/actual_lrps/{guid}/metrics; nil answers 501.
	Metrics *MetricsCache
	// SSH issues one-time SSH logins (POST .../index/{index}/ssh); nil
	// answers 403 SSHDisabled.
	SSH SSHIssuer
	// Registerer receives the request metrics; nil means none are kept.
	Registerer prometheus.Registerer
	// Version is what GET /v1/version answers as diego_release (default: the
	// build's own, internal/version.Release).
	Version string
}

// Errors of this API beyond the models table.
var (
	// ErrNotImplemented answers routes this build does not serve yet.
	ErrNotImplemented = &models.Error{Name: "NotImplemented", Message: "not implemented", Status: http.StatusNotImplemented}
	// ErrMethodNotAllowed answers a known path with a method it does not serve.
	ErrMethodNotAllowed = &models.Error{Name: "MethodNotAllowed", Message: "method not allowed", Status: http.StatusMethodNotAllowed}
)

// Handler is the public API.
type Handler struct {
	logger lager.Logger
	bbs    BBS
	opts   Options
	mux    *http.ServeMux

	closing   chan struct{} // closed once streams must end
	closeOnce sync.Once

	streamsMu sync.Mutex
	streams   map[string]int // open streams by client (perimeter.go)

	requests *prometheus.CounterVec   // by route and status
	duration *prometheus.HistogramVec // by route
}

// NewHandler returns the public API over bbs.
func NewHandler(logger lager.Logger, bbs BBS, opts Options) *Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.KeepaliveInterval <= 0 {
		opts.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if opts.Version == "" {
		opts.Version = version.Release()
	}
	if opts.MaxStreamsPerClient <= 0 {
		opts.MaxStreamsPerClient = DefaultMaxStreamsPerClient
	}
	h := &Handler{logger: logger.Session("receptor"), bbs: bbs, opts: opts, mux: http.NewServeMux(), closing: make(chan struct{}),
		streams: map[string]int{}}
	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diego_receptor_requests_total", Help: "Public API requests answered, by route and status.",
	}, []string{"route", "status"})
	h.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "diego_receptor_request_duration_seconds", Help: "Time to answer a public API request, by route.",
	}, []string{"route"})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(h.requests, h.duration)
	}
	routes := map[string]handlerFunc{
		"POST /v1/tasks":               h.createTask,
		"GET /v1/tasks":                h.listTasks,
		"GET /v1/tasks/{guid}":         h.getTask,
		"POST /v1/tasks/{guid}/cancel": h.cancelTask,
		"DELETE /v1/tasks/{guid}":      h.deleteTask,

		"POST /v1/desired_lrps":          h.createDesiredLRP,
		"GET /v1/desired_lrps":           h.listDesiredLRPs,
		"GET /v1/desired_lrps/{guid}":    h.getDesiredLRP,
		"PUT /v1/desired_lrps/{guid}":    h.updateDesiredLRP,
		"DELETE /v1/desired_lrps/{guid}": h.deleteDesiredLRP,

		"GET /v1/actual_lrps":                           h.listActualLRPs,
		"GET /v1/actual_lrps/{guid}":                    h.listActualLRPsByGuid,
		"GET /v1/actual_lrps/{guid}/index/{index}":      h.getActualLRPIndex,
		"DELETE /v1/actual_lrps/{guid}/index/{index}":   h.killActualLRPIndex,
		"POST /v1/actual_lrps/{guid}/index/{index}/ssh": h.sshAccess,

		"GET /v1/cells":            h.listCells,
		"PUT /v1/domains/{domain}": h.upsertDomain,
		"GET /v1/domains":          h.listDomains,
		"GET /v1/version":          h.version,
		"GET /v1/health":           h.health,
	}
	for pattern, f := range routes {
		h.mux.Handle(pattern, h.wrap(pattern, f))
	}
	h.mux.Handle("GET /v1/events", h.capStreams(h.lrpEventStream))
	h.mux.Handle("GET /v1/events/tasks", h.capStreams(h.taskEventStream))
	h.mux.Handle("GET /v1/logs/{log_guid}", h.capStreams(h.logs))
	h.mux.Handle(instanceMetricsPattern, h.instanceMetricsRoute())
	dashboard.Mount(h.mux)
	h.mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
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

// notFound answers an unrouted request with a typed error: 405 naming the
// allowed methods when the path exists, else 404.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := h.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, method)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, ErrMethodNotAllowed.WithMessage("%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeJSON(w, http.StatusNotFound, models.ErrResourceNotFound.WithMessage("no route %s %s", r.Method, r.URL.Path))
}

// handlerFunc answers a status and a body to encode (nil: no body) or an error.
type handlerFunc func(logger lager.Logger, r *http.Request) (int, any, error)

func (h *Handler) wrap(pattern string, f handlerFunc) http.Handler {
	name := strings.NewReplacer(" ", "", "/", "-", "{", "", "}", "").Replace(strings.ToLower(pattern))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger := h.logger.Session(name)
		start := time.Now()
		status, body, err := f(logger, r)
		if err != nil {
			status = h.writeError(w, logger, err)
		}
		h.requests.WithLabelValues(pattern, strconv.Itoa(status)).Inc()
		h.duration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
		if err != nil {
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

func (h *Handler) writeError(w http.ResponseWriter, logger lager.Logger, err error) int {
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
	writeJSON(w, status, e)
	return status
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (h *Handler) logs(w http.ResponseWriter, r *http.Request) {
	if h.opts.Logs != nil {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-h.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		h.opts.Logs.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	// NOT IMPLEMENTED YET: the logs stream (JetStream, DESIGN 10) plugs in
	// through Options.Logs.
	writeJSON(w, http.StatusNotImplemented, ErrNotImplemented.WithMessage("the logs stream is not implemented yet"))
}
