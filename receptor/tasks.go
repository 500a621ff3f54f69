package receptor

import (
	"errors"
	"net/http"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

func (h *Handler) createTask(logger lager.Logger, r *http.Request) (int, any, error) {
	data, err := readBody(nil, r, h.opts.MaxBodyBytes)
	if err != nil {
		return 0, nil, err
	}
	// The body is task_guid, domain and the definition, flat. It decodes as a
	// whole task, so a client may send a record it read back; the status
	// fields are the store's and are dropped.
	req, err := models.DecodeTask(data)
	if err != nil {
		return 0, nil, err
	}
	if err := h.bbs.DesireTask(r.Context(), logger, req.TaskGuid, req.Domain, &req.TaskDefinition); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, nil, nil
}

func (h *Handler) listTasks(logger lager.Logger, r *http.Request) (int, any, error) {
	tasks, err := h.bbs.Tasks(r.Context(), logger, models.TaskFilter{Domain: r.URL.Query().Get("domain")})
	if err != nil {
		return 0, nil, err
	}
	out := make([]*models.Task, 0, len(tasks))
	for _, task := range tasks {
		out = append(out, publicTask(task))
	}
	return http.StatusOK, out, nil
}

func (h *Handler) getTask(logger lager.Logger, r *http.Request) (int, any, error) {
	task, err := h.bbs.TaskByGuid(r.Context(), logger, r.PathValue("guid"))
	if err != nil {
		return 0, nil, err
	}
	if task == nil {
		return 0, nil, models.ErrTaskNotFound
	}
	return http.StatusOK, publicTask(task), nil
}

func (h *Handler) cancelTask(logger lager.Logger, r *http.Request) (int, any, error) {
	err := h.bbs.CancelTask(r.Context(), logger, r.PathValue("guid"))
	if errors.Is(err, models.ErrInvalidStateTransition) || errors.Is(err, models.ErrResourceConflict) {
		return 0, nil, models.ErrTaskNotCancelable.WithMessage("%s", err.Error())
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, nil, nil
}

// deleteTask removes a COMPLETED task; a task still pending, running or being
// resolved by its callback is not deletable.
func (h *Handler) deleteTask(logger lager.Logger, r *http.Request) (int, any, error) {
	guid := r.PathValue("guid")
	task, err := h.bbs.TaskByGuid(r.Context(), logger, guid)
	if err != nil {
		return 0, nil, err
	}
	if task.State != models.TaskStateCompleted {
		return 0, nil, models.ErrTaskNotDeletable.WithMessage("task %s is %s; only a COMPLETED task can be deleted", guid, task.State)
	}
	err = h.bbs.DeleteTask(r.Context(), logger, guid)
	if errors.Is(err, models.ErrInvalidStateTransition) || errors.Is(err, models.ErrResourceConflict) {
		return 0, nil, models.ErrTaskNotDeletable.WithMessage("%s", err.Error())
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, nil, nil
}
