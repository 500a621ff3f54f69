package linux_test

import (
	"archive/tar"
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Issue 14, item 4: a container that asks for no limits still gets the
// operator's defaults, and what it does inside them leaves the cell and its
// neighbours healthy.
var _ = Describe("Limits always on", func() {
	ctx := context.Background()
	const mib = 1 << 20

	// cellHealthy checks that the host can still start processes and that a
	// neighbour container still runs one promptly.
	cellHealthy := func(neighbour string) {
		GinkgoHelper()
		Expect(exec.Command("true").Run()).To(Succeed(), "the host cannot fork")
		done := make(chan int, 1)
		go func() {
			defer GinkgoRecover()
			status, _, _ := run(neighbour, sh("echo ok; exit 3"))
			done <- status
		}()
		Eventually(done, 20*time.Second).Should(Receive(Equal(3)), "the neighbour container did not run a process")
	}

	It("gives a container that asks for 0 the operator's defaults", func() {
		info := create(garden.ContainerSpec{})
		Expect(info.Limits.MemoryBytes).To(BeEquivalentTo(cfg.DefaultMemoryMB * mib))
		Expect(info.Limits.Pids).To(Equal(cfg.DefaultPids))
		Expect(info.Limits.CPUShares).To(Equal(cfg.DefaultCPUShares))
		Expect(info.Limits.DiskBytes).To(BeEquivalentTo(cfg.DefaultDiskMB * mib))
	})

	DescribeTable("refuses a request above a ceiling",
		func(l garden.Limits, says string) {
			_, err := backend.Create(ctx, garden.ContainerSpec{Image: garden.ImageRef{URI: busyboxURI}, Limits: l})
			Expect(err).To(MatchError(garden.ErrInvalidSpec))
			Expect(err.Error()).To(ContainSubstring(says))
		},
		Entry("memory beyond the cell", garden.Limits{MemoryBytes: 1 << 50}, "max_memory_mb"),
		Entry("pids beyond max_pids", garden.Limits{Pids: 1 << 40}, "max_pids"),
		Entry("cpu shares beyond max_cpu_shares", garden.Limits{CPUShares: 1 << 30}, "max_cpu_shares"),
		Entry("disk beyond the cell", garden.Limits{DiskBytes: 1 << 60}, "max_disk_mb"),
	)

	DescribeTable("contains an attack by a container created with 0 limits",
		func(attack string, contained func(handle string, status int, stderr string)) {
			neighbour := create(garden.ContainerSpec{Limits: garden.Limits{MemoryBytes: 64 * mib, Pids: 50}}).Handle
			handle := create(garden.ContainerSpec{}).Handle
			status, _, stderr := run(handle, sh(attack))
			contained(handle, status, stderr)
			cellHealthy(neighbour)
		},
		Entry("a memory hog is OOM-killed at default_memory_mb",
			// dd's buffer is one block: 1.5 GiB, touched as it is filled.
			"dd if=/dev/zero of=/dev/null bs=1536M count=1",
			func(handle string, status int, stderr string) {
				Expect(status).To(Equal(137), stderr)
				info, err := backend.Info(ctx, handle)
				Expect(err).NotTo(HaveOccurred())
				Expect(info.Events).To(ContainElement(garden.EventOutOfMemory))
			}),
		Entry("1500 processes stop at default_pids",
			"i=0; while [ $i -lt 1500 ]; do sleep 60 & i=$((i+1)); done; echo started $i",
			func(handle string, status int, stderr string) {
				Expect(status).NotTo(Equal(0))
				Expect(stderr).To(ContainSubstring("fork"))
				m, err := backend.Metrics(ctx, handle)
				Expect(err).NotTo(HaveOccurred())
				Expect(m.Pids).To(BeNumerically("<=", cfg.DefaultPids))
			}),
	)

	It("holds a fork bomb, lit by a container created with 0 limits, at default_pids", func() {
		neighbour := create(garden.ContainerSpec{Limits: garden.Limits{MemoryBytes: 64 * mib, Pids: 50}}).Handle
		handle := create(garden.ContainerSpec{}).Handle
		// The shell that lights it stays, so the bomb is not reaped with it.
		var stderr syncBuffer
		p, err := backend.Run(ctx, handle, sh(`b() { b | b & }; b; sleep 600`), garden.ProcessIO{Stderr: &stderr})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = p.Signal(syscall.SIGKILL) })
		Eventually(func() uint64 {
			m, err := backend.Metrics(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			return m.Pids
		}, 20*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", cfg.DefaultPids*9/10))
		Consistently(func() uint64 {
			m, err := backend.Metrics(ctx, handle)
			Expect(err).NotTo(HaveOccurred())
			return m.Pids
		}, 2*time.Second, 100*time.Millisecond).Should(BeNumerically("<=", cfg.DefaultPids))
		Expect(stderr.String()).To(ContainSubstring("fork"))
		cellHealthy(neighbour)
	})
})

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Issue 14, item 4: disk_bytes is enforced.
var _ = Describe("Disk limits", func() {
	ctx := context.Background()
	const mib = 1 << 20

	It("stops a container writing past its disk limit with ENOSPC, on a file system no bigger than the limit", func() {
		handle := create(garden.ContainerSpec{Limits: garden.Limits{DiskBytes: 64 * mib}}).Handle
		status, _, stderr := run(handle, sh("dd if=/dev/zero of=/fill bs=1M count=512"))
		Expect(status).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("No space left on device"))
		status, out, _ := run(handle, sh("ls -l /fill | awk '{print $5}'; df -k / | tail -1 | awk '{print $2}'"))
		Expect(status).To(Equal(0))
		fields := strings.Fields(out)
		Expect(fields).To(HaveLen(2), out)
		written, err := strconv.ParseInt(fields[0], 10, 64)
		Expect(err).NotTo(HaveOccurred())
		Expect(written).To(BeNumerically("<=", 64*mib))
		// The rootfs's writable layer is the container's file system: its
		// size, all the host gives it, is the limit.
		totalKB, err := strconv.ParseInt(fields[1], 10, 64)
		Expect(err).NotTo(HaveOccurred())
		Expect(totalKB * 1024).To(BeNumerically("<=", 64*mib))
		m, err := backend.Metrics(ctx, handle)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskLimitBytes).To(BeEquivalentTo(64 * mib))
		// And the container still works once full.
		status, out, _ = run(handle, sh("rm /fill && echo hi > /ok && cat /ok"))
		Expect(status).To(Equal(0))
		Expect(out).To(Equal("hi\n"))
	})

	It("fails a stream-in past the disk limit with NoSpace at the API edge", func() {
		handle := create(garden.ContainerSpec{Limits: garden.Limits{DiskBytes: 32 * mib}}).Handle
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			err := tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: 64 * mib, Typeflag: tar.TypeReg})
			if err == nil {
				_, err = io.CopyN(tw, zeroReader{}, 64*mib)
			}
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		err := backend.StreamIn(ctx, handle, "/", pr)
		pr.Close()
		Expect(garden.AsError(err)).To(MatchError(garden.ErrNoSpace))
	})

	It("raises a disk limit below the smallest file system to it", func() {
		info := create(garden.ContainerSpec{Limits: garden.Limits{DiskBytes: 1 * mib}})
		Expect(info.Limits.DiskBytes).To(BeEquivalentTo(16 * mib))
	})
})
