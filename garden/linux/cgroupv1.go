package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// cgroupV1Controllers are the v1 hierarchies runc puts containers in.
var cgroupV1Controllers = []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "devices", "freezer", "blkio"}

// cgroupV1 manages containers' cgroups on a host with one hierarchy per
// controller (/sys/fs/cgroup/CONTROLLER/PARENT/HANDLE). runc creates and
// removes them all but the pids one, which garden creates first for work:
// runc cannot remove a cgroup that has a child.
type cgroupV1 struct {
	parent string // below each controller's root
}

func (cgroupV1) version() int { return 1 }

func (m cgroupV1) dir(controller, handle string) string {
	return filepath.Join(cgroupRoot, controller, m.parent, handle)
}

func (m cgroupV1) workDir(handle string) string {
	return filepath.Join(m.dir("pids", handle), workCgroup)
}

func (m cgroupV1) prepare(handle string, pids int64) error {
	dir := m.workDir(handle)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating pids cgroup %s: %w", dir, err)
	}
	if pids > 0 {
		if err := writeCgroupFile(dir, "pids.max", strconv.FormatInt(pids, 10)); err != nil {
			return fmt.Errorf("limiting work: %w", err)
		}
	}
	return nil
}

func (m cgroupV1) openWorkProcs(handle string) (*os.File, error) {
	return openProcsFile(m.workDir(handle))
}

// started has nothing to do: runc put init in the container's cgroups,
// beside work, and every controller is its own hierarchy.
func (cgroupV1) started(string, int, int64) error { return nil }

func (m cgroupV1) oomKilled(handle string) (bool, error) {
	n, err := readCgroupKey(filepath.Join(m.dir("memory", handle), "memory.oom_control"), "oom_kill")
	return n > 0, err
}

func (m cgroupV1) stats(handle string) cgroupStats {
	var s cgroupStats
	s.memoryBytes, _ = readCgroupUint(filepath.Join(m.dir("memory", handle), "memory.usage_in_bytes"))
	s.cpuNanos, _ = readCgroupUint(filepath.Join(m.dir("cpuacct", handle), "cpuacct.usage"))
	s.pids, _ = readCgroupUint(filepath.Join(m.workDir(handle), "pids.current"))
	return s
}

func (m cgroupV1) remove(handle string) error {
	if err := removeCgroupTree(m.dir("pids", handle)); err != nil {
		return fmt.Errorf("removing pids cgroup of %s: %w", handle, err)
	}
	return nil
}

func (m cgroupV1) removeAll() error {
	var errs []error
	for _, ctrl := range cgroupV1Controllers {
		errs = append(errs, removeCgroupTree(filepath.Join(cgroupRoot, ctrl, m.parent)))
	}
	return errors.Join(errs...)
}
