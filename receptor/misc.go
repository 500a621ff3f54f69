package receptor

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
)

func (h *Handler) listCells(logger lager.Logger, r *http.Request) (int, any, error) {
	cells, err := h.bbs.Cells(r.Context(), logger)
	if err != nil {
		return 0, nil, err
	}
	if cells == nil {
		cells = []*models.CellPresence{}
	}
	return http.StatusOK, cells, nil
}

// upsertDomain keeps the domain fresh for the Cache-Control max-age, in
// seconds; without one it stays fresh until upserted with a TTL.
func (h *Handler) upsertDomain(logger lager.Logger, r *http.Request) (int, any, error) {
	domain := r.PathValue("domain")
	if err := models.Invalid(models.ErrInvalidDomain, models.ValidateDomain(domain)); err != nil {
		return 0, nil, err
	}
	ttl, err := maxAge(r.Header.Values("Cache-Control"))
	if err != nil {
		return 0, nil, err
	}
	if err := h.bbs.UpsertDomain(r.Context(), logger, domain, ttl); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func maxAge(headers []string) (int, error) {
	for _, header := range headers {
		for _, directive := range strings.Split(header, ",") {
			name, value, found := strings.Cut(strings.TrimSpace(directive), "=")
			if !strings.EqualFold(name, "max-age") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(value, `"`))
			if !found || err != nil || n < 0 {
				return 0, fieldError(models.ErrInvalidDomain, "Cache-Control", "max-age must be a non-negative number of seconds")
			}
			return n, nil
		}
	}
	return 0, nil
}

func (h *Handler) listDomains(logger lager.Logger, r *http.Request) (int, any, error) {
	domains, err := h.bbs.Domains(r.Context(), logger)
	if err != nil {
		return 0, nil, err
	}
	if domains == nil {
		domains = []string{}
	}
	return http.StatusOK, domains, nil
}

// VersionResponse answers GET /v1/version. DiegoRelease is the 2015 field a
// client reads; Receptor names the same build (the 2015 receptor reported its
// own version beside the release's).
type VersionResponse struct {
	DiegoRelease string `json:"diego_release"`
	Receptor     string `json:"receptor"`
	GoVersion    string `json:"go_version"`
}

func (h *Handler) version(logger lager.Logger, r *http.Request) (int, any, error) {
	return http.StatusOK, VersionResponse{DiegoRelease: h.opts.Version, Receptor: h.opts.Version, GoVersion: runtime.Version()}, nil
}

// HealthResponse answers GET /v1/health: what the receptor knows of the
// control plane behind it.
type HealthResponse struct {
	// Store is etcd's space as the BBS sees it: writable is false while an
	// alarm (NOSPACE) stops every write.
	Store models.StoreHealth `json:"store"`
}

func (h *Handler) health(logger lager.Logger, r *http.Request) (int, any, error) {
	store, err := h.bbs.StoreHealth(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, HealthResponse{Store: *store}, nil
}

// The two event streams: a 2015 client of /v1/events stops on an event name
// it does not know, so task events have a stream of their own.
var (
	lrpEvents = map[string]bool{
		models.EventTypeDesiredLRPCreated: true, models.EventTypeDesiredLRPChanged: true, models.EventTypeDesiredLRPRemoved: true,
		models.EventTypeActualLRPCreated: true, models.EventTypeActualLRPChanged: true, models.EventTypeActualLRPRemoved: true,
	}
	taskEvents = map[string]bool{
		models.EventTypeTaskCreated: true, models.EventTypeTaskChanged: true, models.EventTypeTaskRemoved: true,
	}
)

// lrpEventStream serves GET /v1/events: the six LRP event names only.
func (h *Handler) lrpEventStream(w http.ResponseWriter, r *http.Request) {
	h.events(w, r, h.logger.Session("lrp-events"), lrpEvents)
}

// taskEventStream serves GET /v1/events/tasks: task_{created,changed,removed}.
func (h *Handler) taskEventStream(w http.ResponseWriter, r *http.Request) {
	h.events(w, r, h.logger.Session("task-events"), taskEvents)
}

// events streams the BBS's events whose type is in types as server-sent
// events, resuming after the Last-Event-ID a reconnecting client sends (ids
// are etcd revisions, so a skipped event leaves no gap a client could see).
func (h *Handler) events(w http.ResponseWriter, r *http.Request, logger lager.Logger, types map[string]bool) {
	var after int64
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			h.writeError(w, logger, models.ErrInvalidRequest.WithMessage("Last-Event-ID %q is not a non-negative integer", last))
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
	source, err := h.bbs.SubscribeToEvents(ctx, logger, after)
	if err != nil {
		h.writeError(w, logger, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	client.StreamEvents(ctx, w, &wireEvents{EventSource: source, types: types}, h.opts.KeepaliveInterval)
}

// wireEvents passes on the events of the given types, fills the derived
// fields of actual LRPs in them and takes out write-only fields.
type wireEvents struct {
	client.EventSource
	types map[string]bool
}

func (s *wireEvents) Next() (models.Event, error) {
	for {
		ev, err := s.EventSource.Next()
		if err != nil {
			return ev, err
		}
		if !s.types[ev.Type] {
			continue
		}
		for _, p := range []**models.ActualLRP{&ev.ActualLRP, &ev.ActualLRPBefore, &ev.ActualLRPAfter} {
			if *p != nil {
				*p = wire(*p)
			}
		}
		return publicEvent(ev), nil
	}
}
