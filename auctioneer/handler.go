package auctioneer

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/models"
)

// maxRequestBytes bounds a start request body.
const maxRequestBytes = 16 << 20

// NewHandler serves the auctioneer API: start requests are queued on the
// runner and answered 202 at once. While the runner is not active (a standby
// without the lock) every request is answered 503.
func NewHandler(logger lager.Logger, runner *Runner) http.Handler {
	mux := http.NewServeMux()
	standby := models.ErrServiceUnavailable.WithMessage("this auctioneer is a standby")
	active := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !runner.Active() {
				writeError(w, standby)
				return
			}
			next(w, r)
		}
	}
	mux.HandleFunc("POST "+auctioneerapi.LRPAuctionsPath, active(func(w http.ResponseWriter, r *http.Request) {
		var reqs []*models.LRPStartRequest
		if !decode(logger, w, r, &reqs) {
			return
		}
		runner.AddLRPs(LRPStarts(reqs))
		w.WriteHeader(http.StatusAccepted)
	}))
	mux.HandleFunc("POST "+auctioneerapi.TaskAuctionsPath, active(func(w http.ResponseWriter, r *http.Request) {
		var reqs []*models.TaskStartRequest
		if !decode(logger, w, r, &reqs) {
			return
		}
		runner.AddTasks(TaskStarts(reqs))
		w.WriteHeader(http.StatusAccepted)
	}))
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

func decode(logger lager.Logger, w http.ResponseWriter, r *http.Request, into any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, models.ErrBodyTooLarge)
			return false
		}
		writeError(w, models.ErrInvalidRequest.WithMessage("reading body: %v", err))
		return false
	}
	if err := json.Unmarshal(data, into); err != nil {
		logger.Info("invalid-json", lager.Data{"path": r.URL.Path, "error": err.Error()})
		writeError(w, models.ErrInvalidJSON)
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, e *models.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}
