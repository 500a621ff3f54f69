package receptor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

const instanceMetricsPattern = "GET /v1/actual_lrps/{guid}/metrics"

// instanceMetricsRoute serves GET /v1/actual_lrps/{guid}/metrics: one entry
// per instance of the LRP with its latest usage, or with follow=true an event
// stream of every new sample ("metrics" events, data models.InstanceMetrics).
func (h *Handler) instanceMetricsRoute() http.Handler {
	list := h.wrap(instanceMetricsPattern, h.listInstanceMetrics)
	follow := h.capStreams(h.followInstanceMetrics)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.opts.Metrics == nil {
			writeJSON(w, http.StatusNotImplemented, ErrNotImplemented.WithMessage("instance metrics need NATS, which this receptor is not connected to"))
			return
		}
		switch r.URL.Query().Get("follow") {
		case "", "false":
			list.ServeHTTP(w, r)
		case "true":
			follow.ServeHTTP(w, r)
		default:
			writeJSON(w, http.StatusBadRequest, models.ErrInvalidRequest.WithMessage("follow must be true or false"))
		}
	})
}

func (h *Handler) listInstanceMetrics(logger lager.Logger, r *http.Request) (int, any, error) {
	guid := r.PathValue("guid")
	d, err := h.bbs.DesiredLRPByProcessGuid(r.Context(), logger, guid)
	if err != nil {
		return 0, nil, err
	}
	actual, err := h.bbs.ActualLRPs(r.Context(), logger, models.ActualLRPFilter{ProcessGuid: guid})
	if err != nil {
		return 0, nil, err
	}
	sort.Slice(actual, func(i, j int) bool {
		if actual[i].Index != actual[j].Index {
			return actual[i].Index < actual[j].Index
		}
		return actual[i].Presence < actual[j].Presence
	})
	out := make([]models.InstanceMetrics, 0, len(actual))
	for _, a := range actual {
		m := models.InstanceMetrics{ProcessGuid: guid, Index: a.Index, InstanceGuid: a.InstanceGuid, CellID: a.CellID, State: a.State}
		if a.InstanceGuid != "" && d.MetricsGuid != "" {
			h.opts.Metrics.Usage(d.MetricsGuid, a.InstanceGuid, &m)
		}
		out = append(out, m)
	}
	return http.StatusOK, out, nil
}

func (h *Handler) followInstanceMetrics(w http.ResponseWriter, r *http.Request) {
	logger := h.logger.Session("follow-instance-metrics")
	guid := r.PathValue("guid")
	d, err := h.bbs.DesiredLRPByProcessGuid(r.Context(), logger, guid)
	if err != nil {
		h.writeError(w, logger, err)
		return
	}
	if d.MetricsGuid == "" {
		h.writeError(w, logger, models.ErrInvalidRequest.WithMessage("%s has no metrics_guid, so its instances publish no metrics", guid))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	samples, stop := h.opts.Metrics.Follow(d.MetricsGuid)
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	keepalive := time.NewTicker(h.opts.KeepaliveInterval)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			flush()
		case m, ok := <-samples:
			if !ok {
				return
			}
			m.ProcessGuid = guid
			data, err := json.Marshal(m)
			if err != nil {
				logger.Error("encoding-failed", err)
				return
			}
			if _, err := fmt.Fprintf(w, "event: metrics\ndata: %s\n\n", data); err != nil {
				return
			}
			flush()
		}
	}
}
