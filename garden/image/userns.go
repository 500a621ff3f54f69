package image

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// NewUserNamespace returns a user namespace with the given mappings, as an
// open /proc/<pid>/ns/user file that keeps it alive after its one process is
// gone. Its only use is as the idmapping of mounts (IDIsolation.UserNS).
//
// A process must make it: a multi-threaded program cannot unshare its user
// namespace. The child is started with CLONE_NEWUSER and traced, so it stops
// at its exec before running a single instruction of the program (whichever
// it is: this executable); garden writes its maps (os/exec does, before the
// exec), opens the namespace, kills it and reaps it. About a millisecond;
// callers keep the namespace and reuse it.
func NewUserNamespace(uids, gids []IDMapping) (*os.File, error) {
	ns, err := HoldNamespaces(syscall.CLONE_NEWUSER, uids, gids, "user")
	if err != nil {
		return nil, err
	}
	return ns[0], nil
}

// HoldNamespaces makes the namespaces cloneflags ask for (CLONE_NEWUSER
// among them) the way NewUserNamespace does, and returns each of kinds
// ("user", "net", ...) open, in that order: the new network namespace of
// CLONE_NEWUSER|CLONE_NEWNET belongs to the new user namespace. setgroups
// stays allowed in the user namespace, so a container that joins it may
// still change its groups.
func HoldNamespaces(cloneflags uintptr, uids, gids []IDMapping, kinds ...string) ([]*os.File, error) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"garden-userns-holder"}
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 cloneflags,
		UidMappings:                procIDMaps(uids),
		GidMappings:                procIDMaps(gids),
		GidMappingsEnableSetgroups: true,
		Ptrace:                     true,
		Pdeathsig:                  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting a process in new namespaces: %w", err)
	}
	pid := cmd.Process.Pid
	var held []*os.File
	var openErr error
	for _, kind := range kinds {
		ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/" + kind)
		if err != nil {
			openErr = err
			break
		}
		held = append(held, ns)
	}
	killErr := cmd.Process.Kill()
	waitErr := reapStopped(pid)
	if openErr != nil || killErr != nil || waitErr != nil {
		for _, ns := range held {
			ns.Close()
		}
		if openErr != nil {
			return nil, fmt.Errorf("opening the namespaces of %d: %w", pid, errors.Join(openErr, killErr, waitErr))
		}
		return nil, fmt.Errorf("ending the namespace holder %d: %w", pid, errors.Join(killErr, waitErr))
	}
	return held, nil
}

// reapStopped waits for the killed holder until it has exited: a traced
// child is also reported when it stops, which is not the end of it.
func reapStopped(pid int) error {
	for {
		var status syscall.WaitStatus
		_, err := syscall.Wait4(pid, &status, syscall.WALL, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for %d: %w", pid, err)
		}
		if status.Exited() || status.Signaled() {
			return nil
		}
	}
}

func procIDMaps(ms []IDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(ms))
	for i, m := range ms {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}
