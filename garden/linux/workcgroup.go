package linux

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// A container's processes run in a child pids cgroup, "work", limited to the
// container's pids; the container's own cgroup adds a reserve for initd.
// initd is a Go program that may need a new thread at any time, and failing
// to get one ends it and the container: in a shared cgroup a fork bomb could
// take every pid it needs. initd's exec helper moves itself into work before
// it execs the process.
//
// work's cgroup.procs stays host root's: no path to it is writable from any
// container (every container's root is the same host uid, so a file chowned
// to one container's root is writable by all of them, and one could move its
// processes into another's cgroup). Garden opens it for writing instead and
// hands the descriptor to initd at start (initd.WorkCgroupFD); the kernel
// checks a write against the credentials the file was opened with, and a
// write can only name a process of the writer's own pid namespace.
const (
	workCgroup = "work"
	// initPidsReserve is what initd's threads and its helper may use on top
	// of the workload's limit.
	initPidsReserve = 32
)

func (b *Backend) workCgroupDir(handle string) string {
	return filepath.Join(b.cgroupDir("pids", handle), workCgroup)
}

// makeWorkCgroup creates the container's pids cgroup and its work child
// before runc runs (runc uses the existing one) and limits work to pids (0: no
// limit).
func (b *Backend) makeWorkCgroup(c *container) error {
	dir := b.workCgroupDir(c.handle)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating pids cgroup %s: %w", dir, err)
	}
	if c.spec.Limits.Pids > 0 {
		if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.FormatInt(c.spec.Limits.Pids, 10)), 0); err != nil {
			return fmt.Errorf("limiting pids cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// openWorkCgroupProcs opens work's cgroup.procs for writing, for initd: the
// only way into work from inside the container.
func (b *Backend) openWorkCgroupProcs(handle string) (*os.File, error) {
	path := filepath.Join(b.workCgroupDir(handle), "cgroup.procs")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s for init: %w", path, err)
	}
	return f, nil
}

// removePidsCgroup removes the container's pids cgroup and its work child,
// once the container's processes are gone: runc cannot remove a cgroup that
// has a child.
func (b *Backend) removePidsCgroup(handle string) error {
	if err := removeCgroupTree(b.cgroupDir("pids", handle)); err != nil {
		return fmt.Errorf("removing pids cgroup of %s: %w", handle, err)
	}
	return nil
}
