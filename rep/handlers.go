package rep

import (
	"encoding/json"
	"errors"
	"net/http"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// maxWorkBody caps a POST /work body.
const maxWorkBody = 16 << 20

// Handler serves the rep API of repapi: state, work, stop and cancel. Under
// mutual TLS, state and work are the auctioneer's and stop and cancel the
// BBS's; any other role is answered 403. /ping is for any caller of the CA.
func (r *Rep) Handler() http.Handler {
	mux := http.NewServeMux()
	only := func(h http.HandlerFunc, roles ...string) http.Handler {
		return transport.RequireRoles(r.logger, r.cfg.TLS.Enabled(), h, roles...)
	}
	mux.Handle("GET "+repapi.StatePath, only(func(w http.ResponseWriter, req *http.Request) {
		r.writeJSON(w, http.StatusOK, r.State(req.Context()))
	}, certs.RoleAuctioneer))
	mux.Handle("POST "+repapi.WorkPath, only(func(w http.ResponseWriter, req *http.Request) {
		var work repapi.Work
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxWorkBody)).Decode(&work); err != nil {
			r.writeError(w, models.ErrInvalidJSON.WithMessage("decoding work: %s", err))
			return
		}
		r.writeJSON(w, http.StatusOK, r.Perform(r.logger.Session("work"), work))
	}, certs.RoleAuctioneer))
	mux.Handle("POST "+repapi.StopLRPPath, only(func(w http.ResponseWriter, req *http.Request) {
		if err := r.StopLRPInstance(req.PathValue("instance_guid")); err != nil {
			r.writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}, certs.RoleBBS))
	mux.Handle("POST "+repapi.CancelTaskPath, only(func(w http.ResponseWriter, req *http.Request) {
		if err := r.CancelTask(req.PathValue("task_guid")); err != nil {
			r.writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}, certs.RoleBBS))
	mux.HandleFunc("GET "+repapi.PingPath, func(w http.ResponseWriter, req *http.Request) {
		if !r.executor.Healthy(req.Context()) {
			r.writeError(w, models.ErrServiceUnavailable.WithMessage("garden is not answering"))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// AdminHandler serves POST /evacuate; it belongs on a local address only.
func (r *Rep) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+repapi.EvacuatePath, func(w http.ResponseWriter, req *http.Request) {
		r.logger.Info("evacuation-requested", lager.Data{"from": req.RemoteAddr})
		r.Evacuate()
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

func (r *Rep) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// The status is sent: all that is left is to say the body was cut.
		r.logger.Error("writing-response-failed", err, lager.Data{"status": status})
	}
}

func (r *Rep) writeError(w http.ResponseWriter, err error) {
	var apiErr *models.Error
	if !errors.As(err, &apiErr) {
		apiErr = models.AsError(err)
	}
	status := apiErr.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	r.writeJSON(w, status, apiErr)
}
