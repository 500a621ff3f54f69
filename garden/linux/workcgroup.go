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
// it execs the process (through workCgroupMount, writable by container root).
const (
	workCgroup      = "work"
	workCgroupMount = "/.garden-work" // initd.WorkCgroupProcs is its cgroup.procs
	// initPidsReserve is what initd's threads and its helper may use on top
	// of the workload's limit.
	initPidsReserve = 32
)

func (b *Backend) workCgroupDir(handle string) string {
	return filepath.Join(b.cgroupDir("pids", handle), workCgroup)
}

// makeWorkCgroup creates the container's pids cgroup and its work child
// before runc runs (runc uses the existing one), limits work to pids (0: no
// limit), and gives container root its cgroup.procs.
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
	if !c.spec.Privileged {
		// Only the file: container root may join work, not make cgroups in it.
		root := int(b.cfg.UIDMapStart)
		if err := os.Chown(filepath.Join(dir, "cgroup.procs"), root, root); err != nil {
			return fmt.Errorf("handing pids cgroup %s to container root: %w", dir, err)
		}
	}
	return nil
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
