package receptor

import (
	"context"
	"net/http"
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
	if err := validate(models.ValidateDomain(domain), models.ErrInvalidDomain); err != nil {
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

// events streams the BBS's events as server-sent events, resuming after the
// Last-Event-ID a reconnecting client sends.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	logger := h.logger.Session("events")
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
	client.StreamEvents(ctx, w, &wireEvents{source}, h.opts.KeepaliveInterval)
}

// wireEvents fills the derived fields of actual LRPs in events.
type wireEvents struct{ client.EventSource }

func (s *wireEvents) Next() (models.Event, error) {
	ev, err := s.EventSource.Next()
	for _, p := range []**models.ActualLRP{&ev.ActualLRP, &ev.ActualLRPBefore, &ev.ActualLRPAfter} {
		if *p != nil {
			*p = wire(*p)
		}
	}
	return ev, err
}
