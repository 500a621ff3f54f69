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

// cgroupV2 manages containers' cgroups on a host with the unified hierarchy
// only (Debian 11+, Ubuntu 21.10+, Fedora, RHEL 9). A container is one
// cgroup, PARENT/HANDLE, runc's (cgroupsPath), where runc writes memory.max,
// pids.max (the workload's limit plus initd's reserve) and cpu.weight (from
// the shares) and attaches the device filter, which holds for everything
// below it. Below it are two leaves, as v2 lets only leaves hold processes
// once a controller is enabled for children:
//
//	PARENT/HANDLE/init   initd, moved there by started
//	PARENT/HANDLE/work   the workload, limited to the container's pids
type cgroupV2 struct {
	parent string // the absolute path of the cgroup parent
}

// initLeaf is the child cgroup initd runs in on v2.
const initLeaf = "init"

// cgroupV2Controllers are the controllers containers are limited by; the
// parent's ancestors must enable them for their children.
var cgroupV2Controllers = []string{"memory", "pids", "cpu"}

func (cgroupV2) version() int { return 2 }

func (m cgroupV2) dir(handle string) string { return filepath.Join(m.parent, handle) }

func (m cgroupV2) workDir(handle string) string { return filepath.Join(m.dir(handle), workCgroup) }

// prepare enables the controllers down to the parent, creates the
// container's cgroup and work, and forbids swap: v2 counts swap apart from
// memory.max, and runc leaves it unlimited when the spec gives no swap.
func (m cgroupV2) prepare(handle string, pids int64) error {
	if err := m.enableControllers(); err != nil {
		return err
	}
	dir := m.workDir(handle)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating cgroup %s: %w", dir, err)
	}
	err := writeCgroupFile(m.dir(handle), "memory.swap.max", "0")
	if err != nil && !errors.Is(err, os.ErrNotExist) { // no swap accounting: nothing to limit
		return fmt.Errorf("forbidding swap: %w", err)
	}
	return nil
}

// enableControllers makes every cgroup from the root down to the parent hand
// the containers' controllers to its children, where the kernel has them.
func (m cgroupV2) enableControllers() error {
	rel, err := filepath.Rel(cgroupRoot, m.parent)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup parent %s is not below %s", m.parent, cgroupRoot)
	}
	dir := cgroupRoot
	for _, part := range append([]string{""}, strings.Split(rel, "/")...) {
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		available, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			return fmt.Errorf("reading the controllers of %s: %w", dir, err)
		}
		enabled, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
		if err != nil {
			return fmt.Errorf("reading the controllers %s enables: %w", dir, err)
		}
		var add []string
		for _, c := range cgroupV2Controllers {
			if hasWord(string(available), c) && !hasWord(string(enabled), c) {
				add = append(add, "+"+c)
			}
		}
		if len(add) > 0 {
			if err := writeCgroupFile(dir, "cgroup.subtree_control", strings.Join(add, " ")); err != nil {
				return fmt.Errorf("enabling controllers: %w", err)
			}
		}
	}
	return nil
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

func (m cgroupV2) openWorkProcs(handle string) (*os.File, error) {
	return openProcsFile(m.workDir(handle))
}

// started moves initd from the container's cgroup into its init leaf, which
// frees the container's cgroup to enable pids for work, and limits work.
// Nothing but initd runs in the container yet: processes start only once
// Create has returned.
func (m cgroupV2) started(handle string, initPid int, pids int64) error {
	dir := m.dir(handle)
	leaf := filepath.Join(dir, initLeaf)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating cgroup %s: %w", leaf, err)
	}
	if err := writeCgroupFile(leaf, "cgroup.procs", strconv.Itoa(initPid)); err != nil {
		return fmt.Errorf("moving init of %s into its leaf: %w", handle, err)
	}
	// v2 refuses controllers for the children of a cgroup that still holds
	// a process (EBUSY). Under a churn of creates one was seen there beside
	// init: move whatever is left into the init leaf and try again.
	for attempt := 0; ; attempt++ {
		err := writeCgroupFile(dir, "cgroup.subtree_control", "+pids")
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EBUSY) || attempt >= 20 {
			return fmt.Errorf("enabling pids for work of %s: %w", handle, err)
		}
		if procs, rerr := os.ReadFile(filepath.Join(dir, "cgroup.procs")); rerr == nil {
			for _, pid := range strings.Fields(string(procs)) {
				_ = writeCgroupFile(leaf, "cgroup.procs", pid) // it may have exited meanwhile
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pids > 0 {
		if err := writeCgroupFile(m.workDir(handle), "pids.max", strconv.FormatInt(pids, 10)); err != nil {
			return fmt.Errorf("limiting work of %s: %w", handle, err)
		}
	}
	return nil
}

// oomKilled reads memory.events, which counts the container's descendants'
// kills too.
func (m cgroupV2) oomKilled(handle string) (bool, error) {
	n, err := readCgroupKey(filepath.Join(m.dir(handle), "memory.events"), "oom_kill")
	return n > 0, err
}

func (m cgroupV2) stats(handle string) cgroupStats {
	var s cgroupStats
	s.memoryBytes, _ = readCgroupUint(filepath.Join(m.dir(handle), "memory.current"))
	usec, _ := readCgroupKey(filepath.Join(m.dir(handle), "cpu.stat"), "usage_usec")
	s.cpuNanos = usec * 1000
	s.pids, _ = readCgroupUint(filepath.Join(m.workDir(handle), "pids.current"))
	return s
}

func (m cgroupV2) remove(handle string) error {
	if err := removeCgroupTree(m.dir(handle)); err != nil {
		return fmt.Errorf("removing cgroup of %s: %w", handle, err)
	}
	return nil
}

func (m cgroupV2) removeAll() error { return removeCgroupTree(m.parent) }
