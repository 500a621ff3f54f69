package initd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ExecArg makes the binary the exec helper: it reads a Spawn from fd 3,
// becomes that process and reports why not on fd 4 (close-on-exec, so a
// successful exec closes it with nothing written).
const ExecArg = "exec"

// WorkCgroupFD is where initd finds the cgroup.procs of the pids cgroup the
// container's processes run in, opened for writing by garden (runc run
// --preserve-fds 2). No path to it is writable from inside the container.
const WorkCgroupFD = 4

// helperWorkFD is where the exec helper finds that descriptor.
const helperWorkFD = 5

func execMain() int {
	unix.CloseOnExec(4)
	report := os.NewFile(4, "exec-status")
	err := becomeProcess(os.NewFile(3, "spec"))
	fmt.Fprint(report, err.Error())
	return 127
}

func becomeProcess(specFile *os.File) error {
	data, err := io.ReadAll(specFile)
	specFile.Close()
	if err != nil {
		return fmt.Errorf("reading the process spec: %w", err)
	}
	var spec Spawn
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("reading the process spec: %w", err)
	}
	// Into the workload's pids cgroup (garden's work cgroup), so that the
	// workload can never take the pids initd needs.
	work := os.NewFile(helperWorkFD, "work-cgroup.procs")
	_, err = work.Write([]byte("0"))
	work.Close() // the process must not inherit it
	if err != nil {
		return fmt.Errorf("joining the container's work cgroup: %w", err)
	}
	if spec.Nofile > 0 {
		lim := unix.Rlimit{Cur: spec.Nofile, Max: spec.Nofile}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("setting RLIMIT_NOFILE to %d: %w", spec.Nofile, err)
		}
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("clearing supplementary groups: %w", err)
	}
	if err := syscall.Setgid(int(spec.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", spec.GID, err)
	}
	if err := syscall.Setuid(int(spec.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", spec.UID, err)
	}
	if err := os.Chdir(spec.Dir); err != nil {
		return fmt.Errorf("chdir to cwd (%q): %w", spec.Dir, unwrapPath(err))
	}
	path, err := lookPath(spec.Path, spec.Env)
	if err != nil {
		return err
	}
	err = execRetryingBusy(path, spec.Args, spec.Env)
	return fmt.Errorf("exec: %q: %w", spec.Path, err)
}

// execRetryingBusy execs, trying again for a while on ETXTBSY: a file just
// streamed in (a download action's script) can still be open for writing in
// a child garden forked in that moment (for another container's runc), which
// holds the descriptor until its own exec closes it.
func execRetryingBusy(path string, args, env []string) error {
	wait := 5 * time.Millisecond
	for deadline := time.Now().Add(3 * time.Second); ; {
		err := syscall.Exec(path, args, env)
		if !errors.Is(err, syscall.ETXTBSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// lookPath finds name the way a shell would with the process's own PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return "", fmt.Errorf("exec: %q: stat %s: %w", name, name, unwrapPath(err))
		}
		return name, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		if st, err := os.Stat(candidate); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
