package receptor

import (
	"net/http"
	"strconv"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor/sshd"
)

// SSHIssuer hands out one-time SSH access to an instance (*sshd.Server).
type SSHIssuer interface {
	Issue(processGuid string, index int, requestHost string) sshd.Access
}

// sshAccess answers POST /v1/actual_lrps/{guid}/index/{index}/ssh: a
// one-time login to the receptor's SSH server for that instance, unless the
// operator turned SSH off (403) or the app opted out (403).
func (h *Handler) sshAccess(logger lager.Logger, r *http.Request) (int, any, error) {
	guid := r.PathValue("guid")
	index, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || index < 0 {
		return 0, nil, models.ErrBadIndex.WithMessage("index %q is not a non-negative integer", r.PathValue("index"))
	}
	if h.opts.SSH == nil {
		return 0, nil, ErrSSHDisabled.WithMessage("ssh is turned off on this receptor (ssh_listen_address is empty)")
	}
	d, err := h.bbs.DesiredLRPByProcessGuid(r.Context(), logger, guid)
	if err != nil {
		return 0, nil, err
	}
	if d.SSHDisabled {
		return 0, nil, ErrSSHDisabled.WithMessage("app %s has ssh_disabled", guid)
	}
	logger.Info("ssh-access-issued", lager.Data{"process_guid": guid, "index": index})
	return http.StatusOK, h.opts.SSH.Issue(guid, index, r.Host), nil
}

// ErrSSHDisabled answers an SSH request the operator or the app does not allow.
var ErrSSHDisabled = &models.Error{Name: "SSHDisabled", Message: "ssh is not allowed", Status: http.StatusForbidden}
