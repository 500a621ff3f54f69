package rep

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/shellapi"
)

// ShellGarden is what the shell endpoints need from garden's client.
type ShellGarden interface {
	Run(ctx context.Context, handle string, spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error)
	Dial(ctx context.Context, handle, address string) (net.Conn, error)
}

// EnableShell serves shellapi's endpoints through g (unless the config's
// disable_ssh turns them off); without it they answer 403.
func (r *Rep) EnableShell(g ShellGarden) { r.shell = g }

// shellTarget finds the running LRP instance a shell request names and
// checks that both the operator and the app allow it; it writes the refusal
// itself.
func (r *Rep) shellTarget(w http.ResponseWriter, req *http.Request, logger lager.Logger) (executor.Container, bool) {
	if r.shell == nil || r.cfg.DisableSSH {
		r.writeError(w, models.ErrForbidden.WithMessage("ssh is turned off on cell %s", r.cfg.CellID))
		return executor.Container{}, false
	}
	guid := req.PathValue("instance_guid")
	c, ok := r.executor.Get(guid)
	if !ok || c.Kind != executor.KindLRP || c.State != executor.StateRunning || c.Run == nil {
		r.writeError(w, models.ErrResourceNotFound.WithMessage("no running instance %s on cell %s", guid, r.cfg.CellID))
		return executor.Container{}, false
	}
	// The receptor checked too; the rep asks the BBS again, so an app that
	// opted out stays out even of a receptor that did not look.
	d, err := r.bbs.DesiredLRPByProcessGuid(req.Context(), logger, c.Run.ProcessGuid)
	if err != nil {
		logger.Error("desired-lrp-lookup-failed", err, lager.Data{"process_guid": c.Run.ProcessGuid})
		r.writeError(w, err)
		return executor.Container{}, false
	}
	if d.SSHDisabled {
		r.writeError(w, models.ErrForbidden.WithMessage("app %s has ssh_disabled", d.ProcessGuid))
		return executor.Container{}, false
	}
	return c, true
}

// serveShellProcess runs a process in an instance on the switched connection.
func (r *Rep) serveShellProcess(w http.ResponseWriter, req *http.Request) {
	logger := r.logger.Session("shell-process", lager.Data{"instance_guid": req.PathValue("instance_guid")})
	if !garden.Upgrading(req, garden.UpgradeProcess) {
		r.writeError(w, models.ErrInvalidRequest.WithMessage("needs Upgrade: %s", garden.UpgradeProcess))
		return
	}
	var pr shellapi.ProcessRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&pr); err != nil {
		r.writeError(w, models.ErrInvalidJSON.WithMessage("decoding the process: %s", err))
		return
	}
	c, ok := r.shellTarget(w, req, logger)
	if !ok {
		return
	}
	spec := garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-l"}, Env: pr.Env, TTY: pr.TTY}
	if pr.Command != "" {
		spec.Args = []string{"-c", pr.Command}
	}
	conn, br, err := garden.Hijack(w, garden.UpgradeProcess)
	if err != nil {
		logger.Error("hijack-failed", err)
		return
	}
	defer conn.Close()
	logger.Info("started", lager.Data{"tty": pr.TTY != nil, "command": pr.Command != ""})
	ctx := context.WithoutCancel(req.Context())
	err = garden.ProcessConn(conn, br, func(pio garden.ProcessIO) (garden.Process, error) {
		return r.shell.Run(ctx, c.Guid, spec, pio)
	})
	logger.Info("ended", lager.Data{"error": errString(err)})
}

// serveShellDial relays the switched connection to ?address dialled from
// inside the instance's container.
func (r *Rep) serveShellDial(w http.ResponseWriter, req *http.Request) {
	logger := r.logger.Session("shell-dial", lager.Data{"instance_guid": req.PathValue("instance_guid")})
	if !garden.Upgrading(req, garden.UpgradeDial) {
		r.writeError(w, models.ErrInvalidRequest.WithMessage("needs Upgrade: %s", garden.UpgradeDial))
		return
	}
	c, ok := r.shellTarget(w, req, logger)
	if !ok {
		return
	}
	address := req.URL.Query().Get("address")
	target, err := r.shell.Dial(req.Context(), c.Guid, address)
	if err != nil {
		logger.Info("dial-failed", lager.Data{"address": address, "error": err.Error()})
		r.writeError(w, models.ErrInvalidRequest.WithMessage("dialing %s in the instance: %s", address, err))
		return
	}
	conn, br, err := garden.Hijack(w, garden.UpgradeDial)
	if err != nil {
		target.Close()
		logger.Error("hijack-failed", err)
		return
	}
	logger.Info("relaying", lager.Data{"address": address})
	garden.Splice(&garden.BufferedConn{Conn: conn, R: br}, target)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
