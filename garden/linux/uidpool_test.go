package linux_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"code.cloudfoundry.org/clock"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/linux"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

var _ = Describe("the uid range pool", func() {
	ctx := context.Background()
	var poolCfg linux.Config
	var storeDir string

	newGarden := func(c linux.Config) (*linux.Backend, error) {
		GinkgoHelper()
		s, err := image.NewStore(logger, image.StoreConfig{Dir: storeDir, InsecureRegistries: []string{registry.Host}})
		Expect(err).NotTo(HaveOccurred())
		b, err := linux.New(logger, clock.NewClock(), c, s)
		Expect(err).NotTo(HaveOccurred())
		return b, b.Start(ctx)
	}
	started := func(c linux.Config) *linux.Backend {
		GinkgoHelper()
		b, err := newGarden(c)
		Expect(err).NotTo(HaveOccurred())
		return b
	}
	rangeOf := func(c linux.Config, handle string) int {
		GinkgoHelper()
		start, _ := hostRange(initPid(filepath.Join(c.StateDir, "run", "runc"), handle), "uid_map")
		return start
	}

	BeforeEach(func() {
		poolCfg = linux.DefaultConfig()
		poolCfg.InitPath = cfg.InitPath
		poolCfg.StateDir = filepath.Join(stateDir, "g4")
		poolCfg.BridgeName = "dgu"
		poolCfg.Subnet = "10.254.43.0/24"
		poolCfg.PortRangeStart, poolCfg.PortRangeEnd = 62420, 62429
		// Past every range of the suite's garden: two gardens on one
		// machine need disjoint spans.
		poolCfg.UIDMapStart = cfg.UIDMapStart + uint32(cfg.UIDRangeCount+1)*65536
		poolCfg.UIDRangeCount = 2
		poolCfg.MaxContainers = 4
		storeDir = filepath.Join(stateDir, "img4")
	})

	It("refuses a create past uid_range_count with OutOfCapacity, losing nothing, and hands a destroyed container's range on", func() {
		g := started(poolCfg)
		DeferCleanup(func() { Expect(g.Shutdown(ctx)).To(Succeed()) })
		spec := func(h string) garden.ContainerSpec {
			return garden.ContainerSpec{Handle: h, Image: garden.ImageRef{URI: busyboxURI}}
		}
		for _, h := range []string{"u1", "u2"} {
			_, err := g.Create(ctx, spec(h))
			Expect(err).NotTo(HaveOccurred())
		}
		r1, r2 := rangeOf(poolCfg, "u1"), rangeOf(poolCfg, "u2")
		Expect(r1).NotTo(Equal(r2))

		_, err := g.Create(ctx, spec("u3"))
		Expect(err).To(MatchError(garden.ErrOutOfCapacity))
		Expect(err.Error()).To(ContainSubstring("uid ranges"))
		Expect(filepath.Join(poolCfg.StateDir, "run", "containers", "u3")).NotTo(BeAnExistingFile())
		Expect(filepath.Join(storeDir, "containers", "u3")).NotTo(BeAnExistingFile())
		Expect(g.List(ctx, nil)).To(Equal([]string{"u1", "u2"}))
		for _, h := range []string{"u1", "u2"} {
			p, err := g.Run(ctx, h, sh("echo alive"), garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Wait()).To(Equal(0))
		}
		Expect([]int{rangeOf(poolCfg, "u1"), rangeOf(poolCfg, "u2")}).To(Equal([]int{r1, r2}))

		By("giving the range back on destroy")
		Expect(g.Destroy(ctx, "u2")).To(Succeed())
		_, err = g.Create(ctx, spec("u3"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rangeOf(poolCfg, "u3")).To(Equal(r2))
	})

	It("after a restart, has removed the old containers' idmapped layer mounts and gives a new container a range no live process holds", func() {
		g := started(poolCfg)
		for _, h := range []string{"r1", "r2"} {
			_, err := g.Create(ctx, garden.ContainerSpec{Handle: h, Image: garden.ImageRef{URI: busyboxURI}})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(mountinfo()).To(ContainSubstring(filepath.Join(storeDir, "containers", "r1", "l", "0")))

		By("abandoning it as if it had been killed, and starting a new one on the same state")
		g = started(poolCfg)
		DeferCleanup(func() { Expect(g.Shutdown(ctx)).To(Succeed()) })
		Expect(g.List(ctx, nil)).To(BeEmpty())
		Expect(mountinfo()).NotTo(ContainSubstring(filepath.Join(storeDir, "containers") + "/"))

		_, err := g.Create(ctx, garden.ContainerSpec{Handle: "n1", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).NotTo(HaveOccurred())
		start := rangeOf(poolCfg, "n1")
		Expect(start).To(BeNumerically(">=", int(poolCfg.UIDMapStart)+65536))
		mine := map[int]bool{}
		// n1's processes: in its cgroup on v1, in its init and work leaves on v2.
		procFiles := []string{filepath.Join("/sys/fs/cgroup/pids", "garden-dgu", "n1", "cgroup.procs")}
		if cgroupV2 {
			procFiles = []string{filepath.Join("/sys/fs/cgroup", "garden-dgu", "n1", "init", "cgroup.procs"),
				filepath.Join("/sys/fs/cgroup", "garden-dgu", "n1", "work", "cgroup.procs")}
		}
		for _, file := range procFiles {
			procs, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			for _, f := range strings.Fields(string(procs)) {
				pid, _ := strconv.Atoi(f)
				mine[pid] = true
			}
		}
		Expect(mine).NotTo(BeEmpty())
		for pid, uid := range hostProcessUIDs() {
			if uid >= start && uid < start+65536 {
				Expect(mine).To(HaveKey(pid), "process %d runs as %d, in n1's range", pid, uid)
			}
		}
	})

	Describe("on an image store whose file system cannot be idmapped (ramfs)", func() {
		BeforeEach(func() {
			ramfs := filepath.Join(stateDir, "ramfs")
			Expect(os.MkdirAll(ramfs, 0o755)).To(Succeed())
			Expect(unix.Mount("ramfs", ramfs, "ramfs", 0, "mode=0755")).To(Succeed())
			DeferCleanup(func() { Expect(unix.Unmount(ramfs, unix.MNT_DETACH)).To(Succeed()) })
			storeDir = filepath.Join(ramfs, "img")
			// ramfs keeps every page in memory and has no holes: the
			// per-container disks (sparse files of gigabytes) would fill
			// the machine's memory. This spec is about uid ranges.
			poolCfg.DiskQuota = linux.DiskQuotaOff
		})

		It("refuses to start, naming the directory, unless uid_isolation is shared", func() {
			_, err := newGarden(poolCfg)
			Expect(err).To(MatchError(image.ErrIDMapUnsupported))
			Expect(err.Error()).To(ContainSubstring(filepath.Join(storeDir, "layers")))
			Expect(err.Error()).To(ContainSubstring(`set uid_isolation to "shared"`))

			By("starting with the opt-out, every container on uid_map_start's range")
			poolCfg.UIDIsolation = linux.UIDIsolationShared
			g := started(poolCfg)
			DeferCleanup(func() { Expect(g.Shutdown(ctx)).To(Succeed()) })
			_, err = g.Create(ctx, garden.ContainerSpec{Handle: "s1", Image: garden.ImageRef{URI: busyboxURI}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rangeOf(poolCfg, "s1")).To(Equal(int(poolCfg.UIDMapStart)))
			p, err := g.Run(ctx, "s1", sh("stat -c %u /bin/busybox"), garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Wait()).To(Equal(0))
		})
	})
})

func mountinfo() string {
	GinkgoHelper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	return string(data)
}

// hostProcessUIDs maps every host process to its real uid.
func hostProcessUIDs() map[int]int {
	GinkgoHelper()
	entries, err := os.ReadDir("/proc")
	Expect(err).NotTo(HaveOccurred())
	out := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue // gone meanwhile
		}
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				uid, _ := strconv.Atoi(strings.Fields(rest)[0])
				out[pid] = uid
			}
		}
	}
	return out
}
