package linux

import "os"

// A container's processes run in a child cgroup, "work", with a pids limit:
// on v1 in the pids hierarchy, on v2 beside initd's leaf (cgroupv2.go), limited to the
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

// makeWorkCgroup creates the container's cgroup and its work child before
// runc runs (runc uses the existing one).
func (b *Backend) makeWorkCgroup(c *container) error {
	return b.cgroups.prepare(c.handle, c.spec.Limits.Pids)
}

// openWorkCgroupProcs opens work's cgroup.procs for writing, for initd.
func (b *Backend) openWorkCgroupProcs(handle string) (*os.File, error) {
	return b.cgroups.openWorkProcs(handle)
}

// removePidsCgroup removes what runc leaves of the container's cgroups (on
// v1 the pids cgroup with work, on v2 the whole container cgroup), once the
// container's processes are gone.
func (b *Backend) removePidsCgroup(handle string) error {
	return b.cgroups.remove(handle)
}
