package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the host's cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// A cgroupManager is what garden does with a container's cgroups beyond what
// runc does from the bundle's resources: the work cgroup initd's helper
// moves processes into, the OOM event, the metrics, and removal. There are
// two: cgroupV1 (one hierarchy per controller) and cgroupV2 (one unified
// hierarchy); detectCgroups picks the host's.
//
// The order of calls for one container is prepare, openWorkProcs, runc run,
// started; remove once its processes are gone.
type cgroupManager interface {
	// version is 1 or 2.
	version() int
	// prepare creates the container's cgroup and its work child before runc
	// runs (runc uses the existing cgroup), with work limited to pids (0: no
	// limit) where it can be yet.
	prepare(handle string, pids int64) error
	// openWorkProcs opens work's cgroup.procs for writing, for initd: the
	// only way into work from inside the container.
	openWorkProcs(handle string) (*os.File, error)
	// started finishes the container's cgroups once runc has put its init,
	// pid initPid, in them.
	started(handle string, initPid int, pids int64) error
	// oomKilled says whether the kernel has OOM-killed anything in the
	// container's memory cgroup.
	oomKilled(handle string) (bool, error)
	// stats reads the container's memory use, CPU time and the number of
	// processes in work. A figure it cannot read is 0.
	stats(handle string) cgroupStats
	// remove removes what is left of the container's cgroups, once its
	// processes are gone.
	remove(handle string) error
	// removeAll removes the cgroup parent and everything below it.
	removeAll() error
}

type cgroupStats struct {
	memoryBytes uint64
	cpuNanos    uint64
	pids        uint64
}

// detectCgroups returns the manager for the host's cgroup mode: v2 when
// /sys/fs/cgroup is itself a cgroup2 file system (a unified-only host), v1
// otherwise (legacy, or hybrid with v2 beside it at /sys/fs/cgroup/unified,
// where runc still uses the v1 controllers).
func detectCgroups(parent string) (cgroupManager, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &fs); err != nil {
		return nil, fmt.Errorf("detecting the cgroup mode: statfs %s: %w", cgroupRoot, err)
	}
	if fs.Type == unix.CGROUP2_SUPER_MAGIC {
		return cgroupV2{parent: filepath.Join(cgroupRoot, parent)}, nil
	}
	return cgroupV1{parent: parent}, nil
}

// readCgroupUint reads a file holding one unsigned number.
func readCgroupUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return v, nil
}

// readCgroupKey reads the value of key from a flat keyed file ("key value"
// lines: memory.events, cpu.stat, memory.oom_control).
func readCgroupKey(path, key string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading %s in %s: %w", key, path, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no %s in %s", key, path)
}

func openProcsFile(dir string) (*os.File, error) {
	path := filepath.Join(dir, "cgroup.procs")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s for init: %w", path, err)
	}
	return f, nil
}

func writeCgroupFile(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("writing %q to cgroup file %s: %w", value, filepath.Join(dir, file), err)
	}
	return nil
}

// removeCgroupTree removes a cgroup and its children, deepest first. cgroup
// directories are removed with rmdir (their files are virtual).
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	err = os.Remove(dir)
	if errors.Is(err, unix.EBUSY) {
		// Processes no runc state knows of: a container whose create was cut
		// short when its garden stopped. Nothing else can end them.
		err = emptyCgroup(dir)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}

// emptyCgroupWait bounds how long emptyCgroup waits for killed processes to go.
const emptyCgroupWait = 5 * time.Second

// emptyCgroup kills every process in dir and removes it once they are gone.
func emptyCgroup(dir string) error {
	deadline := time.Now().Add(emptyCgroupWait)
	for {
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return err
		}
		for _, field := range strings.Fields(string(procs)) {
			if pid, err := strconv.Atoi(field); err == nil {
				_ = unix.Kill(pid, unix.SIGKILL) // it may be gone already
			}
		}
		err = os.Remove(dir)
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
