package linux_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
)

// run runs a process to completion and returns its exit status and output.
func run(handle string, spec garden.ProcessSpec) (int, string, string) {
	GinkgoHelper()
	var stdout, stderr bytes.Buffer
	p, err := backend.Run(context.Background(), handle, spec, garden.ProcessIO{Stdout: &stdout, Stderr: &stderr})
	Expect(err).NotTo(HaveOccurred())
	status, err := p.Wait()
	Expect(err).NotTo(HaveOccurred())
	return status, stdout.String(), stderr.String()
}

func sh(script string) garden.ProcessSpec {
	return garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", script}}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ = Describe("Backend", func() {
	ctx := context.Background()

	Describe("running processes", func() {
		var handle string
		BeforeEach(func() {
			handle = create(garden.ContainerSpec{Env: []string{"FROM_CONTAINER=c", "OVERRIDE=container"}}).Handle
		})

		It("keeps stdout and stderr apart", func() {
			status, out, errOut := run(handle, sh("echo to-out; echo to-err >&2"))
			Expect(status).To(Equal(0), errOut)
			Expect(out).To(Equal("to-out\n"))
			Expect(errOut).To(Equal("to-err\n"))
		})

		DescribeTable("reports the exact exit status",
			func(code int) {
				status, _, _ := run(handle, sh("exit "+strconv.Itoa(code)))
				Expect(status).To(Equal(code))
			},
			Entry("success", 0), Entry("failure", 1), Entry("42", 42), Entry("255", 255),
		)

		It("reaps many short processes, run side by side, with their exact statuses", func() {
			var wg sync.WaitGroup
			statuses := make([]int, 60)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					p, err := backend.Run(ctx, handle, sh("exit "+strconv.Itoa(i%7)), garden.ProcessIO{})
					Expect(err).NotTo(HaveOccurred())
					statuses[i], err = p.Wait()
					Expect(err).NotTo(HaveOccurred())
				}()
			}
			wg.Wait()
			for i, s := range statuses {
				Expect(s).To(Equal(i%7), "process %d", i)
			}
			Expect(zombieChildren()).To(BeEmpty())
		})

		It("layers the environment: image, then container, then process", func() {
			spec := sh(`echo "$PATH|$FROM_CONTAINER|$OVERRIDE|$HOME"`)
			spec.Env = []string{"OVERRIDE=process"}
			_, out, _ := run(handle, spec)
			Expect(out).To(Equal("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|c|process|/root\n"))
		})

		It("runs as the named user from the image, in its home by default", func() {
			spec := sh("id -u; id -g; pwd; echo $HOME $USER")
			spec.User = "vcap"
			_, out, _ := run(handle, spec)
			Expect(out).To(Equal("2000\n2000\n/home/vcap\n/home/vcap vcap\n"))
		})

		It("runs as root by default, in the given directory", func() {
			spec := sh("id -u; pwd")
			spec.Dir = "/tmp"
			_, out, _ := run(handle, spec)
			Expect(out).To(Equal("0\n/tmp\n"))
		})

		It("refuses a user the image does not know", func() {
			spec := sh("true")
			spec.User = "nosuchuser"
			_, err := backend.Run(ctx, handle, spec, garden.ProcessIO{})
			Expect(err).To(MatchError(garden.ErrInvalidSpec))
		})

		It("refuses a missing executable with the reason", func() {
			_, err := backend.Run(ctx, handle, garden.ProcessSpec{Path: "/no/such/binary"}, garden.ProcessIO{})
			Expect(err).To(MatchError(garden.ErrInvalidSpec))
			Expect(err.Error()).To(ContainSubstring("no such file"))
		})

		It("applies the nofile limit, soft and hard", func() {
			spec := sh("ulimit -n; ulimit -Hn")
			spec.Limits.Nofile = 77
			_, out, _ := run(handle, spec)
			Expect(out).To(Equal("77\n77\n"))
		})

		It("grants a nofile limit above the default", func() {
			spec := sh("ulimit -n")
			spec.Limits.Nofile = 4 * cfg.DefaultNofile
			_, out, _ := run(handle, spec)
			Expect(out).To(Equal(strconv.FormatUint(4*cfg.DefaultNofile, 10) + "\n"))
		})

		It("finds a bare executable name on the process's PATH, and leaks none of the init's environment", func() {
			_, out, _ := run(handle, garden.ProcessSpec{Path: "env", Env: []string{"PATH=/bin"}})
			Expect(out).To(ContainSubstring("PATH=/bin\n"))
			Expect(out).NotTo(ContainSubstring("GOMAXPROCS"))
		})

		It("outlives a process that signals the container's init", func() {
			status, _, _ := run(handle, sh("kill -TERM 1; kill -HUP 1; kill -INT 1; sleep 0.2"))
			Expect(status).To(Equal(0))
			status, _, _ = run(handle, sh("exit 3"))
			Expect(status).To(Equal(3))
		})

		It("delivers signals: a killed process exits 128+signal", func() {
			p, err := backend.Run(ctx, handle, garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"1000"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() error { return p.Signal(syscall.SIGTERM) }).Should(Succeed())
			Eventually(func() int { s, _ := p.Wait(); return s }).Should(Equal(128 + int(syscall.SIGTERM)))
		})

		It("lets a process handle SIGTERM", func() {
			out := &syncBuffer{}
			p, err := backend.Run(ctx, handle, sh("trap 'echo bye; exit 7' TERM; echo ready; while true; do sleep 0.05; done"), garden.ProcessIO{Stdout: out})
			Expect(err).NotTo(HaveOccurred())
			Eventually(out.String).Should(ContainSubstring("ready"))
			Expect(p.Signal(syscall.SIGTERM)).To(Succeed())
			Expect(p.Wait()).To(Equal(7))
			Expect(out.String()).To(Equal("ready\nbye\n"))
		})

		It("keeps a process running when its caller leaves, and lets another attach to it", func() {
			first := &syncBuffer{}
			p, err := backend.Run(ctx, handle, sh("echo one; sleep 0.3; echo two; exit 3"), garden.ProcessIO{Stdout: &departingClient{w: first}})
			Expect(err).NotTo(HaveOccurred())
			second := &syncBuffer{}
			attached, err := backend.Attach(ctx, handle, p.ID(), garden.ProcessIO{Stdout: second})
			Expect(err).NotTo(HaveOccurred())
			Expect(attached.Wait()).To(Equal(3))
			Expect(second.String()).To(ContainSubstring("two"))
			Expect(first.String()).To(Equal("one\n"))

			info, err := backend.Info(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.ProcessIDs).To(ContainElement(p.ID()))
			_, err = backend.Attach(ctx, handle, "no-such-process", garden.ProcessIO{})
			Expect(err).To(MatchError(garden.ErrProcessNotFound))
		})

		It("stops with SIGTERM, then SIGKILL once the grace period is over", func() {
			out := &syncBuffer{}
			p, err := backend.Run(ctx, handle, sh("trap '' TERM; echo ready; while true; do sleep 0.05; done"), garden.ProcessIO{Stdout: out})
			Expect(err).NotTo(HaveOccurred())
			Eventually(out.String).Should(ContainSubstring("ready"))
			start := time.Now()
			Expect(backend.Stop(ctx, handle, 300*time.Millisecond)).To(Succeed())
			Expect(time.Since(start)).To(BeNumerically(">=", 300*time.Millisecond))
			Expect(p.Wait()).To(Equal(137))
			info, err := backend.Info(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.State).To(Equal(garden.StateStopped))
			_, err = backend.Run(ctx, handle, sh("true"), garden.ProcessIO{})
			Expect(err).To(MatchError(garden.ErrInvalidSpec))
		})

		It("reports a container whose init died as stopped", func() {
			info, err := backend.Info(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.State).To(Equal(garden.StateActive))
			pid, err := os.ReadFile(filepath.Join(info.ContainerPath, "init.pid"))
			Expect(err).NotTo(HaveOccurred())
			n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
			Expect(err).NotTo(HaveOccurred())
			Expect(syscall.Kill(n, syscall.SIGKILL)).To(Succeed())
			Eventually(func() string {
				info, _ := backend.Info(ctx, handle)
				return info.State
			}).Should(Equal(garden.StateStopped))
		})

		It("does not let the container see host processes", func() {
			_, out, _ := run(handle, sh("ls /proc | grep -c '^[0-9]'"))
			n, err := strconv.Atoi(strings.TrimSpace(out))
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(BeNumerically("<=", 4)) // init, sh, ls, grep
			_, out, _ = run(handle, sh("cat /proc/1/cmdline"))
			Expect(out).To(Equal("/.garden-init\x00"))
		})

		It("maps container root to an unprivileged host uid of a range of its own, past the layers' base range", func() {
			_, out, _ := run(handle, sh("cat /proc/self/uid_map"))
			fields := strings.Fields(out)
			Expect(fields).To(HaveLen(3))
			Expect(fields[0]).To(Equal("0"))
			Expect(fields[2]).To(Equal("65536"))
			host, err := strconv.Atoi(fields[1])
			Expect(err).NotTo(HaveOccurred())
			Expect(host).To(BeNumerically(">", int(cfg.UIDMapStart)))
			Expect((host - int(cfg.UIDMapStart)) % 65536).To(Equal(0))
		})

		It("denies dangerous syscalls and keeps root from re-gaining privileges", func() {
			status, _, errOut := run(handle, sh("mkdir -p /tmp/m && mount -t tmpfs none /tmp/m"))
			Expect(status).NotTo(Equal(0))
			Expect(errOut).To(MatchRegexp("not permitted|permission denied"))
			_, out, _ := run(handle, sh("grep -E '^(NoNewPrivs|CapEff)' /proc/self/status"))
			Expect(out).To(ContainSubstring("NoNewPrivs:\t1"))
			Expect(out).NotTo(ContainSubstring("CapEff:\t000001ffffffffff"))
		})

		It("streams files in and out as tar", func() {
			var tarball bytes.Buffer
			writeTar(&tarball, map[string]string{"hello.txt": "hi there\n", "sub/inner.txt": "inner\n"})
			Expect(backend.StreamIn(ctx, handle, "/tmp/in", &tarball)).To(Succeed())
			_, out, _ := run(handle, sh("cat /tmp/in/hello.txt /tmp/in/sub/inner.txt; stat -c %u /tmp/in/hello.txt"))
			Expect(out).To(Equal("hi there\ninner\n0\n"))

			var outTar bytes.Buffer
			Expect(backend.StreamOut(ctx, handle, "/tmp/in", &outTar)).To(Succeed())
			Expect(readTar(&outTar)).To(Equal(map[string]string{"in/hello.txt": "hi there\n", "in/sub/inner.txt": "inner\n"}))
		})

		It("keeps streamed-in files inside the container, even through a symlink to /", func() {
			marker := fmt.Sprintf("garden-escape-%d", GinkgoRandomSeed())
			var tarball bytes.Buffer
			tw := tar.NewWriter(&tarball)
			Expect(tw.WriteHeader(&tar.Header{Name: "escape", Typeflag: tar.TypeSymlink, Linkname: "/"})).To(Succeed())
			Expect(tw.WriteHeader(&tar.Header{Name: "escape/tmp/" + marker, Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})).To(Succeed())
			_, _ = tw.Write([]byte("hi\n"))
			Expect(tw.Close()).To(Succeed())
			Expect(backend.StreamIn(ctx, handle, "/tmp/in", &tarball)).To(Succeed())
			Expect(filepath.Join("/tmp", marker)).NotTo(BeAnExistingFile())
			_, out, _ := run(handle, sh("cat /tmp/"+marker))
			Expect(out).To(Equal("hi\n"))
		})

		It("reports metrics from the cgroup", func() {
			m, err := backend.Metrics(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			Expect(m.MemoryBytes).To(BeNumerically(">", 0))
			Expect(m.DiskBytes).To(BeNumerically(">", 0))
		})
	})

	Describe("limits", func() {
		It("reports an OOM kill as the event \"out of memory\"", func() {
			handle := create(garden.ContainerSpec{Limits: garden.Limits{MemoryBytes: 32 << 20}}).Handle
			status, _, _ := run(handle, sh(`awk 'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) s = s s }'`))
			Expect(status).To(Equal(137))
			info, err := backend.Info(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Events).To(ContainElement(garden.EventOutOfMemory))
		})

		It("caps the number of processes", func() {
			handle := create(garden.ContainerSpec{Limits: garden.Limits{Pids: 10}}).Handle
			status, _, errOut := run(handle, sh("for i in $(seq 1 40); do sleep 2 & done; wait"))
			Expect(status).NotTo(Equal(0))
			Expect(errOut).To(ContainSubstring("fork"))
			m, err := backend.Metrics(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			// The sleeps that fit beside the shell, which has exited: the
			// workload's own 10, since garden's init has its own reserve.
			Expect(m.Pids).To(BeNumerically("==", 9), errOut)
			// And the container survived its fork bomb.
			Eventually(func() int { status, _, _ := run(handle, sh("exit 4")); return status }, 10*time.Second).Should(Equal(4))
		})
	})

	Describe("bind mounts", func() {
		It("does not let container root write a host-owned directory", func() {
			dir := GinkgoT().TempDir()
			Expect(os.Chmod(dir, 0o755)).To(Succeed())
			handle := create(garden.ContainerSpec{BindMounts: []garden.BindMount{{SrcPath: dir, DstPath: "/mnt/host"}}}).Handle
			status, _, errOut := run(handle, sh("touch /mnt/host/x"))
			Expect(status).NotTo(Equal(0))
			Expect(errOut).To(ContainSubstring("denied"))
			Expect(filepath.Join(dir, "x")).NotTo(BeAnExistingFile())
		})

		It("lets a privileged container's root write it", func() {
			dir := GinkgoT().TempDir()
			handle := create(garden.ContainerSpec{Privileged: true, BindMounts: []garden.BindMount{{SrcPath: dir, DstPath: "/mnt/host"}}}).Handle
			status, _, errOut := run(handle, sh("touch /mnt/host/x && cat /proc/self/uid_map"))
			Expect(status).To(Equal(0), errOut)
			Expect(filepath.Join(dir, "x")).To(BeAnExistingFile())
		})
	})

	Describe("bad input", func() {
		It("answers a bad URI with BadURI and leaves nothing behind", func() {
			_, err := backend.Create(ctx, garden.ContainerSpec{Handle: "bad-uri", Image: garden.ImageRef{URI: "nonsense://x"}})
			Expect(err).To(MatchError(garden.ErrBadURI))
			expectNoTrace("bad-uri", "")
		})

		It("answers an image that is not there with ImageFetchFailed and the reason", func() {
			_, err := backend.Create(ctx, garden.ContainerSpec{Handle: "no-image", Image: garden.ImageRef{URI: fmt.Sprintf("docker://%s/missing#latest", registry.Host)}})
			Expect(err).To(MatchError(garden.ErrImageFetchFailed))
			Expect(err.Error()).To(ContainSubstring("missing"))
			expectNoTrace("no-image", "")
		})

		It("refuses a host port something already listens on", func() {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			defer l.Close()
			port := uint32(l.Addr().(*net.TCPAddr).Port)
			_, err = backend.Create(ctx, garden.ContainerSpec{Handle: "port-taken", Image: garden.ImageRef{URI: busyboxURI}, NetIn: []garden.NetInRule{{HostPort: port, ContainerPort: 80}}})
			Expect(err).To(MatchError(garden.ErrPortInUse))
			expectNoTrace("port-taken", "")
		})

		It("refuses a host port another container maps", func() {
			first := create(garden.ContainerSpec{NetIn: []garden.NetInRule{{ContainerPort: 80}}})
			_, err := backend.Create(ctx, garden.ContainerSpec{Handle: "port-mapped", Image: garden.ImageRef{URI: busyboxURI}, NetIn: []garden.NetInRule{{HostPort: first.MappedPorts[0].HostPort}}})
			Expect(err).To(MatchError(garden.ErrPortInUse))
			expectNoTrace("port-mapped", "")
		})

		It("refuses a handle that exists and leaves the first container alone", func() {
			first := create(garden.ContainerSpec{Handle: "taken"})
			_, err := backend.Create(ctx, garden.ContainerSpec{Handle: "taken", Image: garden.ImageRef{URI: busyboxURI}})
			Expect(err).To(MatchError(garden.ErrContainerAlreadyExists))
			status, _, _ := run(first.Handle, sh("true"))
			Expect(status).To(Equal(0))
		})

		It("answers an unknown handle with ContainerNotFound", func() {
			_, err := backend.Info(ctx, "nope")
			Expect(err).To(MatchError(garden.ErrContainerNotFound))
			Expect(backend.Destroy(ctx, "nope")).To(MatchError(garden.ErrContainerNotFound))
		})
	})
})

func httpStatus(url string) (int, error) {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func readTCP(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	var buf bytes.Buffer
	_, err = buf.ReadFrom(conn)
	return buf.String(), err
}

func iptablesSave() string {
	GinkgoHelper()
	out, err := exec.Command("iptables-save").Output()
	Expect(err).NotTo(HaveOccurred())
	return string(out)
}

// expectNoTrace checks that nothing of handle is left: bundle, rootfs, mounts,
// cgroups, runc state, and (given its IP) veth and rules.
func expectNoTrace(handle, ip string) {
	GinkgoHelper()
	Expect(filepath.Join(cfg.StateDir, "run", "containers", handle)).NotTo(BeAnExistingFile())
	Expect(filepath.Join(cfg.StateDir, "run", "runc", handle)).NotTo(BeAnExistingFile())
	Expect(filepath.Join(stateDir, "img", "containers", handle)).NotTo(BeAnExistingFile())
	for _, ctrl := range []string{"memory", "cpu", "pids", "freezer"} {
		Expect(cgroupPath(ctrl, handle, "")).NotTo(BeAnExistingFile())
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	Expect(string(mounts)).NotTo(ContainSubstring("/" + handle + "/"))
	links, err := netlink.LinkList()
	Expect(err).NotTo(HaveOccurred())
	if ip != "" {
		Expect(iptablesSave()).NotTo(ContainSubstring(ip + "/32"))
		Expect(iptablesSave()).NotTo(ContainSubstring(ip + ":"))
		index := ip[strings.LastIndex(ip, ".")+1:]
		for _, l := range links {
			Expect(l.Attrs().Name).NotTo(Equal(bridgeName + "-" + index))
		}
	}
}

// zombieChildren lists exited, unreaped children of this process (garden is
// the subreaper of its containers' processes).
func zombieChildren() []string {
	GinkgoHelper()
	entries, err := os.ReadDir("/proc")
	Expect(err).NotTo(HaveOccurred())
	var zombies []string
	for _, e := range entries {
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		s := string(status)
		if strings.Contains(s, "\nPPid:\t"+strconv.Itoa(os.Getpid())+"\n") && strings.Contains(s, "State:\tZ") {
			zombies = append(zombies, e.Name())
		}
	}
	return zombies
}
