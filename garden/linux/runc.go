package linux

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// runc drives the OCI runtime (runc, or crun which takes the same commands)
// with this garden's own state root.
type runc struct {
	path string
	root string
}

func (r runc) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, r.path, append([]string{"--root", r.root}, args...)...)
}

func (r runc) runCombined(ctx context.Context, args ...string) error {
	out, err := r.command(ctx, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(r.path), args[0], err, bytes.TrimSpace(out))
	}
	return nil
}

// runDetached starts the container's init and returns once it runs. The init
// inherits runc's stdio, so that is /dev/null (a pipe would never close) and
// runc's errors go to a log file instead.
// initFiles become the init's fd 3, 4, ...
func (r runc) runDetached(ctx context.Context, id, bundle string, initFiles ...*os.File) (int, error) {
	logFile := filepath.Join(bundle, "runc.log")
	pidFile := filepath.Join(bundle, "init.pid")
	cmd := exec.CommandContext(ctx, r.path, "--root", r.root, "--log", logFile,
		"run", "--detach", "--no-new-keyring", "--preserve-fds", strconv.Itoa(len(initFiles)), "--pid-file", pidFile, "--bundle", bundle, id)
	cmd.ExtraFiles = initFiles
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(logFile)
		return 0, fmt.Errorf("%s run: %w: %s", filepath.Base(r.path), err, bytes.TrimSpace(log))
	}
	return readPid(pidFile)
}

func (r runc) delete(ctx context.Context, id string) error {
	return r.runCombined(ctx, "delete", "--force", id)
}

func (r runc) killAll(ctx context.Context, id string, sig syscall.Signal) error {
	return r.runCombined(ctx, "kill", "--all", id, strconv.Itoa(int(sig)))
}

func readPid(pidFile string) (int, error) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("reading pid: %w", err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		return 0, fmt.Errorf("parsing pid %q: %w", b, err)
	}
	return pid, nil
}

// list returns the ids runc knows under this root.
func (r runc) list(ctx context.Context) ([]string, error) {
	out, err := r.command(ctx, "list", "--format", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("%s list: %w", filepath.Base(r.path), err)
	}
	var states []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &states); err != nil && len(bytes.TrimSpace(out)) > 0 && string(bytes.TrimSpace(out)) != "null" {
		return nil, fmt.Errorf("%s list: %w", filepath.Base(r.path), err)
	}
	ids := make([]string, 0, len(states))
	for _, s := range states {
		ids = append(ids, s.ID)
	}
	return ids, nil
}
