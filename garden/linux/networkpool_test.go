package linux_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/linux"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var _ = Describe("the network pool", func() {
	ctx := context.Background()
	var poolCfg linux.Config

	started := func() *linux.Backend { GinkgoHelper(); return startedGarden(poolCfg, "img5") }
	hostVeths := func() []string {
		GinkgoHelper()
		links, err := netlink.LinkList()
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, poolCfg.BridgeName+"-") {
				out = append(out, l.Attrs().Name)
			}
		}
		return out
	}
	inode := func(path string) uint64 {
		GinkgoHelper()
		var st unix.Stat_t
		Expect(unix.Stat(path, &st)).To(Succeed())
		return st.Ino
	}
	// expectWired checks the container's network from inside and out: eth0
	// holds its address with the default route via the bridge, its fresh
	// sysfs shows only its own devices, and its network namespace belongs
	// to its own user namespace (what lets it mount that sysfs, and what
	// makes its root powerless over anything else's network).
	expectWired := func(g *linux.Backend, info garden.ContainerInfo, pid int) {
		GinkgoHelper()
		var stdout bytes.Buffer
		p, err := g.Run(ctx, info.Handle, sh("ip -4 addr show eth0 | grep -o 'inet [0-9.]*'; ip route | grep default; ls /sys/class/net"), garden.ProcessIO{Stdout: &stdout, Stderr: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(Equal(0))
		gateway := strings.TrimSuffix(poolCfg.Subnet, "0/24") + "1"
		Expect(stdout.String()).To(Equal("inet " + info.ContainerIP + "\ndefault via " + gateway + " dev eth0 \neth0\nlo\n"))

		ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		Expect(err).NotTo(HaveOccurred())
		defer ns.Close()
		owner, err := unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_USERNS)
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(owner)
		var st unix.Stat_t
		Expect(unix.Fstat(owner, &st)).To(Succeed())
		Expect(st.Ino).To(Equal(inode("/proc/" + strconv.Itoa(pid) + "/ns/user")))
	}

	BeforeEach(func() {
		poolCfg = linux.DefaultConfig()
		poolCfg.InitPath = cfg.InitPath
		poolCfg.StateDir = filepath.Join(stateDir, "g5")
		poolCfg.BridgeName = "dgn"
		poolCfg.Subnet = "10.254.46.0/24"
		poolCfg.PortRangeStart, poolCfg.PortRangeEnd = 62430, 62439
		// Past the suite's garden's ranges and the uid pool spec's three.
		poolCfg.UIDMapStart = cfg.UIDMapStart + uint32(cfg.UIDRangeCount+1+3)*65536
		poolCfg.UIDRangeCount = 4
		poolCfg.MaxContainers = 4
		poolCfg.NetworkPoolSize = 3
	})

	It("gives a create a network namespace made ahead, wired and owned by the container's user namespace, and everything back at shutdown", func() {
		g := started()
		ready := g.PooledNetnsInodes()
		Expect(ready).To(HaveLen(3))
		Expect(hostVeths()).To(HaveLen(3), "each entry's host end is on the bridge")

		info, err := g.Create(ctx, garden.ContainerSpec{Handle: "pooled", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).NotTo(HaveOccurred())
		pid := initPid(filepath.Join(poolCfg.StateDir, "run", "runc"), "pooled")
		Expect(ready).To(ContainElement(inode("/proc/"+strconv.Itoa(pid)+"/ns/net")), "the container joined a pooled namespace")
		expectWired(g, info, pid)

		By("refilling from half empty once a create is done, never past max_containers")
		Expect(g.PooledNetworks()).To(Equal(2))
		Expect(hostVeths()).To(HaveLen(3))
		for i, h := range []string{"p2", "p3", "p4"} {
			_, err := g.Create(ctx, garden.ContainerSpec{Handle: h, Image: garden.ImageRef{URI: busyboxURI}})
			Expect(err).NotTo(HaveOccurred())
			Expect(g.PooledNetworks()).To(Equal(2-i), "containers and pooled networks together at most max_containers")
		}
		_, err = g.Create(ctx, garden.ContainerSpec{Handle: "p5", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).To(MatchError(garden.ErrOutOfCapacity))
		Expect(hostVeths()).To(HaveLen(4))

		By("leaving no pooled veth after shutdown")
		Expect(g.Shutdown(ctx)).To(Succeed())
		Expect(hostVeths()).To(BeEmpty())
	})

	It("makes the network itself when the pool is off", func() {
		poolCfg.NetworkPoolSize = -1
		g := started()
		DeferCleanup(func() { Expect(g.Shutdown(ctx)).To(Succeed()) })
		Expect(g.PooledNetworks()).To(Equal(0))
		Expect(hostVeths()).To(BeEmpty())

		info, err := g.Create(ctx, garden.ContainerSpec{Handle: "unpooled", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).NotTo(HaveOccurred())
		expectWired(g, info, initPid(filepath.Join(poolCfg.StateDir, "run", "runc"), "unpooled"))
		Expect(hostVeths()).To(HaveLen(1))
	})
})
