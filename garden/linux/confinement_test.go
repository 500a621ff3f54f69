package linux_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/imagetest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Attacks from inside real containers on what garden confines them with: the
// seccomp profile, /sys, and the cgroups of other containers (issue 14).
var _ = Describe("Confinement", Ordered, ContinueOnFailure, func() {
	var probeURI string

	BeforeAll(func() {
		img := imagetest.Must(imagetest.ProbeImage(stateDir))
		Expect(imagetest.Push(registry.Host, "probe", "latest", img)).To(Succeed())
		probeURI = fmt.Sprintf("docker://%s/probe#latest", registry.Host)
	})

	probe := func(handle string, names ...string) string {
		GinkgoHelper()
		status, stdout, stderr := run(handle, garden.ProcessSpec{Path: "/probe/sysprobe", Args: names})
		Expect(status).To(Equal(0), stderr)
		return stdout
	}

	Describe("the seccomp profile of an unprivileged container", Ordered, func() {
		var handle string
		BeforeAll(func() { handle = create(garden.ContainerSpec{Image: garden.ImageRef{URI: probeURI}}).Handle })

		DescribeTable("refuses each call that reaches past the container",
			func(name, errno string) {
				Expect(probe(handle, name)).To(Equal(name + ": " + errno + "\n"))
			},
			Entry(nil, "clone-newuser", "EPERM"),
			Entry(nil, "clone-newuser-newns", "EPERM"),
			Entry(nil, "clone-newuser-newnet", "EPERM"),
			Entry(nil, "clone-newuser-newpid", "EPERM"),
			Entry(nil, "clone-newuser-newuts", "EPERM"),
			Entry(nil, "clone-newuser-newipc", "EPERM"),
			Entry(nil, "clone-newuser-newcgroup", "EPERM"),
			// clone3's flags are behind a pointer: refused outright, with
			// the answer that makes libc fall back to clone.
			Entry(nil, "clone3-newuser", "ENOSYS"),
			Entry(nil, "clone3-plain", "ENOSYS"),
			Entry(nil, "unshare-newuser", "EPERM"),
			Entry(nil, "unshare-newuser-newns", "EPERM"),
			Entry(nil, "setns", "EPERM"),
			Entry(nil, "mount", "EPERM"),
			Entry(nil, "umount2", "EPERM"),
			Entry(nil, "pivot_root", "EPERM"),
			Entry(nil, "io_uring_setup", "EPERM"),
			Entry(nil, "io_uring_enter", "EPERM"),
			Entry(nil, "io_uring_register", "EPERM"),
			Entry(nil, "bpf", "EPERM"),
			Entry(nil, "perf_event_open", "EPERM"),
			Entry(nil, "keyctl", "EPERM"),
			Entry(nil, "add_key", "EPERM"),
			Entry(nil, "request_key", "EPERM"),
			Entry(nil, "userfaultfd", "EPERM"),
			Entry(nil, "kexec_load", "EPERM"),
			Entry(nil, "kexec_file_load", "EPERM"),
			Entry(nil, "open_by_handle_at", "EPERM"),
			Entry(nil, "init_module", "EPERM"),
			Entry(nil, "finit_module", "EPERM"),
			Entry(nil, "delete_module", "EPERM"),
		)

		It("lets the calls of ordinary programs through", func() {
			Expect(probe(handle, "getpid", "uname", "clone-plain")).To(Equal("getpid: ok\nuname: ok\nclone-plain: ok\n"))
		})

		It("runs a busybox shell pipeline", func() {
			status, stdout, stderr := run(handle, sh("ls / | grep -c probe; echo hello | tr a-z A-Z | wc -c; ps | wc -l >/dev/null && id -u"))
			Expect(status).To(Equal(0), stderr)
			Expect(stdout).To(Equal("1\n6\n0\n"))
		})

		It("runs a Go HTTP server that answers", func() {
			out := &syncBuffer{}
			_, err := backend.Run(context.Background(), handle, garden.ProcessSpec{Path: "/app/httpapp", Env: []string{"PORT=8081"}}, garden.ProcessIO{Stdout: out, Stderr: out})
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() string {
				_, stdout, _ := run(handle, sh("wget -qO- http://127.0.0.1:8081/health 2>&1"))
				return stdout
			}, 10*time.Second, 100*time.Millisecond).Should(Equal("ok\n"), func() string { return out.String() })
		})
	})

	Describe("the seccomp profile of a privileged container", Ordered, func() {
		var handle string
		BeforeAll(func() {
			handle = create(garden.ContainerSpec{Image: garden.ImageRef{URI: probeURI}, Privileged: true}).Handle
		})

		It("is looser: namespaces may be made", func() {
			Expect(probe(handle, "clone-newuser-newns", "clone3-plain", "unshare-newuser")).
				To(Equal("clone-newuser-newns: ok\nclone3-plain: ok\nunshare-newuser: ok\n"))
		})

		It("still refuses io_uring, bpf, keyrings and kexec", func() {
			Expect(probe(handle, "io_uring_setup", "bpf", "keyctl", "kexec_load")).
				To(Equal("io_uring_setup: EPERM\nbpf: EPERM\nkeyctl: EPERM\nkexec_load: EPERM\n"))
		})
	})

	Describe("/sys and the cgroups below it", Ordered, func() {
		var a, b string
		BeforeAll(func() {
			a = create(garden.ContainerSpec{Image: garden.ImageRef{URI: probeURI}}).Handle
			b = create(garden.ContainerSpec{Image: garden.ImageRef{URI: probeURI}}).Handle
		})
		cg := cgroupPath

		DescribeTable("refuses writes from inside",
			func(path func() string) {
				target := path()
				before, _ := os.ReadFile(target)
				status, stdout, _ := run(a, sh(fmt.Sprintf("echo 1 > %s && echo written", target)))
				Expect(stdout).NotTo(ContainSubstring("written"))
				Expect(status).NotTo(Equal(0))
				if !strings.HasSuffix(target, "cgroup.procs") { // those change as processes come and go
					after, _ := os.ReadFile(target)
					Expect(after).To(Equal(before))
				}
			},
			Entry("its own pids limit", func() string { return cg("pids", a, "pids.max") }),
			Entry("its own memory limit", func() string {
				return cg("memory", a, map[bool]string{false: "memory.limit_in_bytes", true: "memory.max"}[cgroupV2])
			}),
			Entry("the cell's cgroup.procs", func() string { return cg("pids", "", "cgroup.procs") }),
			Entry("a neighbour's pids limit", func() string { return cg("pids", b, "pids.max") }),
			Entry("the host's root pids cgroup", func() string { return filepath.Join(hostCgroupRoot(), "cgroup.procs") }),
			Entry("a kernel setting", func() string { return "/sys/kernel/mm/transparent_hugepage/enabled" }),
		)

		It("refuses a new cgroup below its own", func() {
			status, _, _ := run(a, sh("mkdir "+cg("pids", a, "work/escape")))
			Expect(status).NotTo(Equal(0))
			Expect(cg("pids", a, "work/escape")).NotTo(BeADirectory())
		})

		It("is a read-only sysfs with no cgroupfs below it", func() {
			status, stdout, stderr := run(a, sh("grep ' /sys ' /proc/mounts; ls -A /sys/fs/cgroup | wc -l; grep -c cgroup /proc/mounts"))
			Expect(status).To(Equal(1), stderr) // grep -c found none
			Expect(stdout).To(MatchRegexp(`^sysfs /sys sysfs ro,`))
			Expect(stdout).To(HaveSuffix("\n0\n0\n"))
		})

		It("keeps a container's processes out of a neighbour's cgroup", func() {
			status, stdout, stderr := run(a, sh(fmt.Sprintf("echo $$ > %s; grep %s /proc/self/cgroup", cg("pids", b, "work/cgroup.procs"), pidsCgroupLine())))
			Expect(status).To(Equal(0))
			Expect(stderr).To(ContainSubstring("nonexistent directory"))
			Expect(stdout).To(ContainSubstring("/" + a + "/work"))
			Expect(stdout).NotTo(ContainSubstring(b))
		})

		It("keeps them out even where the host's cgroups are bound in", func() {
			c := create(garden.ContainerSpec{Image: garden.ImageRef{URI: probeURI}, BindMounts: []garden.BindMount{
				{SrcPath: hostCgroupRoot(), DstPath: "/host-pids"},
			}}).Handle
			target := filepath.Join("/host-pids", cfg.CgroupParent, b, "work/cgroup.procs")
			status, stdout, stderr := run(c, sh(fmt.Sprintf("ls %s && echo $$ > %s; grep %s /proc/self/cgroup", target, target, pidsCgroupLine())))
			Expect(status).To(Equal(0))
			Expect(stdout).To(HavePrefix(target + "\n")) // it is there to be tried
			Expect(stderr).To(ContainSubstring("Permission denied"))
			Expect(stdout).To(ContainSubstring(pidsCgroupLine() + "/" + cfg.CgroupParent + "/" + c + "/work"))
			Expect(stdout).NotTo(ContainSubstring(pidsCgroupLine() + "/" + cfg.CgroupParent + "/" + b))
		})
	})
})
