package receptor

import (
	"net/http"
	"strconv"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

func (h *Handler) createDesiredLRP(logger lager.Logger, r *http.Request) (int, any, error) {
	data, err := readBody(nil, r, h.opts.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	lrp, err := models.DecodeDesiredLRP(data)
	if err != nil {
		return 0, nil, err
	}
	if err := h.bbs.DesireLRP(r.Context(), logger, lrp); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, nil, nil
}

func (h *Handler) listDesiredLRPs(logger lager.Logger, r *http.Request) (int, any, error) {
	lrps, err := h.bbs.DesiredLRPs(r.Context(), logger, models.DesiredLRPFilter{Domain: r.URL.Query().Get("domain")})
	if err != nil {
		return 0, nil, err
	}
	out := make([]*models.DesiredLRP, 0, len(lrps))
	for _, lrp := range lrps {
		out = append(out, publicDesiredLRP(lrp))
	}
	return http.StatusOK, out, nil
}

func (h *Handler) getDesiredLRP(logger lager.Logger, r *http.Request) (int, any, error) {
	lrp, err := h.bbs.DesiredLRPByProcessGuid(r.Context(), logger, r.PathValue("guid"))
	if err != nil {
		return 0, nil, err
	}
	if lrp == nil {
		return 0, nil, models.ErrDesiredLRPNotFound
	}
	out := publicDesiredLRP(lrp)
	if lrp.Version != "" {
		// The roll's progress (our extension) comes from the instances'
		// records; an LRP stored before versions has none.
		records, err := h.bbs.ActualLRPs(r.Context(), logger, models.ActualLRPFilter{ProcessGuid: lrp.ProcessGuid})
		if err != nil {
			return 0, nil, err
		}
		info := lrp.SchedulingInfo()
		status := models.RollProgress(&info, records)
		cp := *out
		cp.Roll = &status
		out = &cp
	}
	return http.StatusOK, out, nil
}

// updateDesiredLRP takes the fields of models.DesiredLRPUpdate; naming any
// other field is refused, since changing it would make a different LRP. A
// change of the run definition rolls the instances (docs/api-lrps.md).
func (h *Handler) updateDesiredLRP(logger lager.Logger, r *http.Request) (int, any, error) {
	data, err := readBody(nil, r, h.opts.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	update, err := models.DecodeDesiredLRPUpdate(data)
	if err != nil {
		return 0, nil, err
	}
	if err := h.bbs.UpdateDesiredLRP(r.Context(), logger, r.PathValue("guid"), *update); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (h *Handler) deleteDesiredLRP(logger lager.Logger, r *http.Request) (int, any, error) {
	if err := h.bbs.RemoveDesiredLRP(r.Context(), logger, r.PathValue("guid")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (h *Handler) listActualLRPs(logger lager.Logger, r *http.Request) (int, any, error) {
	return h.actualLRPs(logger, r, models.ActualLRPFilter{Domain: r.URL.Query().Get("domain")})
}

func (h *Handler) listActualLRPsByGuid(logger lager.Logger, r *http.Request) (int, any, error) {
	return h.actualLRPs(logger, r, models.ActualLRPFilter{ProcessGuid: r.PathValue("guid")})
}

// actualLRPs answers one record per index: the one models.ResolveActualLRPs
// prefers (a running ordinary instance before copies that still serve).
func (h *Handler) actualLRPs(logger lager.Logger, r *http.Request, filter models.ActualLRPFilter) (int, any, error) {
	records, err := h.bbs.ActualLRPs(r.Context(), logger, filter)
	if err != nil {
		return 0, nil, err
	}
	resolved := models.ResolveActualLRPGroups(records)
	out := make([]*models.ActualLRP, 0, len(resolved))
	for _, rec := range resolved {
		out = append(out, wire(rec))
	}
	return http.StatusOK, out, nil
}

func (h *Handler) getActualLRPIndex(logger lager.Logger, r *http.Request) (int, any, error) {
	rec, err := h.actualLRPIndex(logger, r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire(rec), nil
}

// killActualLRPIndex stops the instance; the BBS starts a replacement at once
// if the index is still desired.
func (h *Handler) killActualLRPIndex(logger lager.Logger, r *http.Request) (int, any, error) {
	rec, err := h.actualLRPIndex(logger, r)
	if err != nil {
		return 0, nil, err
	}
	if err := h.bbs.KillActualLRP(r.Context(), logger, rec.ActualLRPKey); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (h *Handler) actualLRPIndex(logger lager.Logger, r *http.Request) (*models.ActualLRP, error) {
	guid := r.PathValue("guid")
	index, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || index < 0 {
		return nil, models.ErrBadIndex.WithMessage("index %q is not a non-negative integer", r.PathValue("index"))
	}
	records, err := h.bbs.ActualLRPs(r.Context(), logger, models.ActualLRPFilter{ProcessGuid: guid, Index: &index})
	if err != nil {
		return nil, err
	}
	var mine []*models.ActualLRP
	for _, rec := range records {
		if rec.ProcessGuid == guid && rec.Index == index {
			mine = append(mine, rec)
		}
	}
	best := models.ResolveActualLRPs(mine)
	if best == nil {
		return nil, models.ErrActualLRPIndexNotFound.WithMessage("no actual LRP at index %d of %s", index, guid)
	}
	return best, nil
}

// wire fills the derived fields of the public shape.
func wire(rec *models.ActualLRP) *models.ActualLRP {
	out := *rec
	if out.Presence == "" {
		out.Presence = models.PresenceOrdinary
	}
	out.Evacuating = out.Presence == models.PresenceEvacuating
	return &out
}
