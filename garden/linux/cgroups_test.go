package linux_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/linux"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// cgroupV2 says whether this host runs the unified hierarchy only; the suite
// runs on both (v1 on the host, v2 in the VM harness's guest).
var cgroupV2 = linux.CgroupVersion() == 2

// cgroupPath is where one of a container's cgroup files is on this host:
// below the controller's hierarchy on v1, in the unified one on v2 (where
// controller is ignored). handle "" is the cgroup parent.
func cgroupPath(controller, handle, file string) string {
	if cgroupV2 {
		return filepath.Join("/sys/fs/cgroup", cfg.CgroupParent, handle, file)
	}
	return filepath.Join("/sys/fs/cgroup", controller, cfg.CgroupParent, handle, file)
}

// hostCgroupRoot is the root cgroup of the hierarchy that holds pids.
func hostCgroupRoot() string {
	if cgroupV2 {
		return "/sys/fs/cgroup"
	}
	return "/sys/fs/cgroup/pids"
}

// pidsCgroupLine is the prefix of /proc/PID/cgroup's line for the
// hierarchy that holds pids.
func pidsCgroupLine() string {
	if cgroupV2 {
		return "0::"
	}
	return ":pids:"
}

// readCgroup reads one of a container's cgroup files.
func readCgroup(controller, handle, file string) string {
	GinkgoHelper()
	b, err := os.ReadFile(cgroupPath(controller, handle, file))
	Expect(err).NotTo(HaveOccurred())
	return strings.TrimSpace(string(b))
}

var _ = Describe("Cgroups", func() {
	ctx := context.Background()

	It("detects the host's cgroup mode from the file system at /sys/fs/cgroup", func() {
		var fs unix.Statfs_t
		Expect(unix.Statfs("/sys/fs/cgroup", &fs)).To(Succeed())
		want := 1
		if fs.Type == unix.CGROUP2_SUPER_MAGIC {
			want = 2
		}
		Expect(linux.CgroupVersion()).To(Equal(want))
		_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
		Expect(err == nil).To(Equal(want == 2), "a v2 root has cgroup.controllers; a v1 (or hybrid) one does not")
	})

	It("runs the workload in work, limited to the container's pids, and initd outside it", func() {
		handle := create(garden.ContainerSpec{Limits: garden.Limits{Pids: 40}}).Handle
		status, out, stderr := run(handle, sh("cat /proc/self/cgroup"))
		Expect(status).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring(pidsCgroupLine() + "/" + cfg.CgroupParent + "/" + handle + "/work\n"))
		Expect(readCgroup("pids", handle, "work/pids.max")).To(Equal("40"))
		Expect(readCgroup("pids", handle, "pids.max")).To(Equal(strconv.Itoa(40+32)), "initd's reserve on top")
		if cgroupV2 {
			By("keeping initd in a leaf of its own: v2 lets only leaves hold processes")
			procs := readCgroup("", handle, "init/cgroup.procs")
			Expect(strings.Fields(procs)).To(HaveLen(1))
			Expect(readCgroup("", handle, "cgroup.procs")).To(BeEmpty())
			Expect(strings.Fields(readCgroup("", handle, "cgroup.subtree_control"))).To(ContainElement("pids"))
		}
	})

	It("sets the memory limit, no swap beyond it, and the cpu share on the container's cgroup", func() {
		handle := create(garden.ContainerSpec{Limits: garden.Limits{CPUShares: 512, MemoryBytes: 96 << 20}}).Handle
		if cgroupV2 {
			Expect(readCgroup("", handle, "memory.max")).To(Equal(strconv.Itoa(96 << 20)))
			if _, err := os.Stat(cgroupPath("", handle, "memory.swap.max")); err == nil {
				Expect(readCgroup("", handle, "memory.swap.max")).To(Equal("0"))
			}
			// runc's conversion of shares: 1 + (512-2)*9999/262142.
			Expect(readCgroup("", handle, "cpu.weight")).To(Equal("20"))
		} else {
			Expect(readCgroup("memory", handle, "memory.limit_in_bytes")).To(Equal(strconv.Itoa(96 << 20)))
			Expect(readCgroup("cpu", handle, "cpu.shares")).To(Equal("512"))
		}
		run(handle, sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"))
		m, err := backend.Metrics(ctx, handle)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.CPUTime).To(BeNumerically(">", 0))
		Expect(m.MemoryBytes).To(BeNumerically(">", 0))
		Expect(m.Pids).To(BeZero(), "the finished process left work")
		Expect(m.MemoryLimitBytes).To(BeEquivalentTo(96 << 20))
	})

	It("removes the container's cgroups, init and work with them, on destroy", func() {
		info, err := backend.Create(ctx, garden.ContainerSpec{Handle: "cg-doomed", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).NotTo(HaveOccurred())
		_, err = backend.Run(ctx, info.Handle, garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"1000"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Expect(cgroupPath("pids", info.Handle, "work")).To(BeADirectory())
		Expect(backend.Destroy(ctx, info.Handle)).To(Succeed())
		Expect(cgroupPath("pids", info.Handle, "")).NotTo(BeAnExistingFile())
		Expect(cgroupPath("memory", info.Handle, "")).NotTo(BeAnExistingFile())
		Expect(cgroupPath("pids", "", "")).To(BeADirectory(), "the parent stays for the other containers")
	})
})

// survivorCgroup is the memory cgroup of the restart spec's container, in
// the other garden's parent.
func survivorCgroup() string {
	if cgroupV2 {
		return "/sys/fs/cgroup/garden-dgk/survivor-check"
	}
	return "/sys/fs/cgroup/memory/garden-dgk/survivor-check"
}
