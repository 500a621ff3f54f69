package linux_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/imagetest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// initPid asks runc, as garden's own runc root holds it, for a container's
// init pid on the host.
func initPid(runcRoot, handle string) int {
	GinkgoHelper()
	out, err := exec.Command("runc", "--root", runcRoot, "state", handle).Output()
	Expect(err).NotTo(HaveOccurred())
	var st struct{ Pid int }
	Expect(json.Unmarshal(out, &st)).To(Succeed())
	Expect(st.Pid).To(BeNumerically(">", 0))
	return st.Pid
}

// hostRange reads one line of a process's uid_map or gid_map: where
// container id 0 sits on the host, and how many ids follow.
func hostRange(pid int, file string) (start, size int) {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), file))
	Expect(err).NotTo(HaveOccurred())
	f := strings.Fields(string(data))
	Expect(f).To(HaveLen(3), "one mapping line in %s: %q", file, data)
	Expect(f[0]).To(Equal("0"))
	start, err = strconv.Atoi(f[1])
	Expect(err).NotTo(HaveOccurred())
	size, err = strconv.Atoi(f[2])
	Expect(err).NotTo(HaveOccurred())
	return start, size
}

// asHostUser runs a host shell script as uid:gid with no supplementary
// groups and no capabilities: what a process escaped from a container, as
// that container's root, would be.
func asHostUser(uid int, script string) (string, error) {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var _ = Describe("per-container uid ranges (uid_isolation per-container)", func() {
	ctx := context.Background()
	runcRoot := func() string { return filepath.Join(cfg.StateDir, "run", "runc") }

	It("gives two unprivileged containers disjoint host ranges, both apart from the layers' base range", func() {
		a, b := create(garden.ContainerSpec{}), create(garden.ContainerSpec{})
		for _, file := range []string{"uid_map", "gid_map"} {
			aStart, aSize := hostRange(initPid(runcRoot(), a.Handle), file)
			bStart, bSize := hostRange(initPid(runcRoot(), b.Handle), file)
			Expect(aSize).To(Equal(65536))
			Expect(bSize).To(Equal(65536))
			Expect(aStart+aSize <= bStart || bStart+bSize <= aStart).To(BeTrue(), "%s: %d+%d and %d+%d overlap", file, aStart, aSize, bStart, bSize)
			for _, start := range []int{aStart, bStart} {
				Expect(start).To(BeNumerically(">=", int(cfg.UIDMapStart)+65536), "%s: not in the base range, which owns the shared layers", file)
			}
		}

		By("running each one's processes as its own host uid")
		for _, h := range []garden.ContainerInfo{a, b} {
			start, _ := hostRange(initPid(runcRoot(), h.Handle), "uid_map")
			status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(initPid(runcRoot(), h.Handle)), "status"))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(status)).To(MatchRegexp(`(?m)^Uid:\t%d\t%d\t`, start, start))
		}
	})

	It("shows the image's files owned by root in each container, and lets a process write and own its files", func() {
		for _, h := range []garden.ContainerInfo{create(garden.ContainerSpec{}), create(garden.ContainerSpec{})} {
			status, out, errOut := run(h.Handle, sh("stat -c '%u:%g' / /bin /bin/busybox /etc/passwd"))
			Expect(status).To(Equal(0), errOut)
			Expect(strings.Fields(out)).To(Equal([]string{"0:0", "0:0", "0:0", "0:0"}))

			status, out, errOut = run(h.Handle, sh("echo mine > /mine && chown 1000:1000 /mine && stat -c '%u:%g' /mine && cat /mine && echo edit >> /bin/busybox-copy && stat -c %u /bin/busybox-copy"))
			Expect(status).To(Equal(0), errOut)
			Expect(out).To(Equal("1000:1000\nmine\n0\n"))

			status, out, errOut = run(h.Handle, garden.ProcessSpec{User: "1000", Path: "/bin/sh", Args: []string{"-c", "echo more >> /mine && cat /mine"}})
			Expect(status).To(Equal(0), errOut)
			Expect(out).To(Equal("mine\nmore\n"))

			By("owning them, on the host, by the container's range")
			start, _ := hostRange(initPid(runcRoot(), h.Handle), "uid_map")
			var st syscall.Stat_t
			Expect(syscall.Stat(filepath.Join(stateDir, "img", "containers", h.Handle, "upper", "mine"), &st)).To(Succeed())
			Expect(int(st.Uid)).To(Equal(start + 1000))
			Expect(int(st.Gid)).To(Equal(start + 1000))
		}
	})

	It("streams in owned by the container's range and streams out in the container's ids", func() {
		h := create(garden.ContainerSpec{})
		body := []byte("owned\n")
		tarball, err := imagetest.Tar(imagetest.Entry{Path: "f", Type: tar.TypeReg, Mode: 0o640, UID: 1000, GID: 1001, Body: body})
		Expect(err).NotTo(HaveOccurred())
		Expect(backend.StreamIn(ctx, h.Handle, "/tmp/in", bytes.NewReader(tarball))).To(Succeed())

		_, out, _ := run(h.Handle, sh("stat -c '%u:%g' /tmp/in/f"))
		Expect(out).To(Equal("1000:1001\n"))
		start, _ := hostRange(initPid(runcRoot(), h.Handle), "uid_map")
		var st syscall.Stat_t
		Expect(syscall.Stat(filepath.Join(stateDir, "img", "containers", h.Handle, "upper", "tmp", "in", "f"), &st)).To(Succeed())
		Expect([]int{int(st.Uid), int(st.Gid)}).To(Equal([]int{start + 1000, start + 1001}))

		var outTar bytes.Buffer
		Expect(backend.StreamOut(ctx, h.Handle, "/tmp/in/f", &outTar)).To(Succeed())
		hdr, err := tar.NewReader(&outTar).Next()
		Expect(err).NotTo(HaveOccurred())
		Expect([]int{hdr.Uid, hdr.Gid}).To(Equal([]int{1000, 1001}))

		By("refusing an owner outside the container's map")
		tarball, err = imagetest.Tar(imagetest.Entry{Path: "g", Type: tar.TypeReg, Mode: 0o640, UID: 70000, Body: body})
		Expect(err).NotTo(HaveOccurred())
		Expect(backend.StreamIn(ctx, h.Handle, "/tmp/in", bytes.NewReader(tarball))).To(MatchError(garden.ErrInvalidSpec))
	})

	Describe("a process running on the host as container A's root, after B's root's private files", func() {
		var a, b garden.ContainerInfo
		var aRoot, bRoot int

		BeforeEach(func() {
			a, b = create(garden.ContainerSpec{}), create(garden.ContainerSpec{})
			aRoot, _ = hostRange(initPid(runcRoot(), a.Handle), "uid_map")
			bRoot, _ = hostRange(initPid(runcRoot(), b.Handle), "uid_map")
			Expect(aRoot).NotTo(Equal(bRoot))
			status, _, errOut := run(b.Handle, sh("mkdir /private && chmod 700 /private && echo s3cret > /private/secret && chmod 600 /private/secret && echo s3cret > /secret && chmod 600 /secret"))
			Expect(status).To(Equal(0), errOut)

		})

		routes := func() map[string]string {
			containerDir := filepath.Join(stateDir, "img", "containers", b.Handle)
			// Not /proc/<pid>/root: B's processes sit in a user namespace
			// host root owns, so no host uid without CAP_SYS_PTRACE there
			// gets through it, B's own root included.
			return map[string]string{
				"upper":  filepath.Join(containerDir, "upper"),
				"rootfs": filepath.Join(containerDir, "rootfs"),
			}
		}

		DescribeTable("cannot read, list or write them",
			func(route string) {
				root := routes()[route]
				By("as B's own root the route leads to the files (so the attack is real: with one range for all, A's root was B's)")
				out, err := asHostUser(bRoot, "cat "+root+"/private/secret "+root+"/secret")
				Expect(err).NotTo(HaveOccurred(), out)
				Expect(out).To(Equal("s3cret\ns3cret\n"))

				By("as A's root it is refused at every step")
				for _, script := range []string{
					"cat " + root + "/private/secret",
					"cat " + root + "/secret",
					"ls " + root + "/private",
					"echo pwned >> " + root + "/secret",
					"echo pwned > " + root + "/private/new",
				} {
					out, err := asHostUser(aRoot, script)
					Expect(err).To(HaveOccurred(), "%s succeeded: %s", script, out)
					Expect(out).NotTo(ContainSubstring("s3cret"))
				}
				_, out, _ = run(b.Handle, sh("cat /private/secret /secret; ls /private"))
				Expect(out).To(Equal("s3cret\ns3cret\nsecret\n"))
			},
			Entry("through B's upper dir in the image store", "upper"),
			Entry("through B's rootfs in the image store", "rootfs"),
		)
	})
})
