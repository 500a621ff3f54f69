package linux_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/linux"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
)

var _ = Describe("a second garden on the same machine", func() {
	ctx := context.Background()
	var otherCfg linux.Config

	newGarden := func() *linux.Backend { GinkgoHelper(); return startedGarden(otherCfg, "img2") }

	BeforeEach(func() {
		otherCfg = linux.DefaultConfig()
		otherCfg.InitPath = cfg.InitPath
		otherCfg.StateDir = filepath.Join(stateDir, "g2")
		otherCfg.BridgeName = "dgk"
		otherCfg.Subnet = "10.254.41.0/24"
		otherCfg.PortRangeStart, otherCfg.PortRangeEnd = 62400, 62409
		otherCfg.MaxContainers = 2
	})

	It("runs beside the first without colliding, and cleans up after itself when killed", func() {
		other := newGarden()
		DeferCleanup(func() {
			Expect(other.Shutdown(ctx)).To(Succeed())
			mounts, err := os.ReadFile("/proc/self/mounts")
			Expect(err).NotTo(HaveOccurred())
			Expect(string(mounts)).NotTo(ContainSubstring(filepath.Join(otherCfg.StateDir, "run")), "its tmpfs goes with it")
		})

		mine := create(garden.ContainerSpec{})
		theirs, err := other.Create(ctx, garden.ContainerSpec{Handle: "survivor-check", Image: garden.ImageRef{URI: busyboxURI}, NetIn: []garden.NetInRule{{ContainerPort: 80}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(theirs.ContainerIP).To(HavePrefix("10.254.41."))
		Expect(theirs.MappedPorts[0].HostPort).To(BeNumerically(">=", 62400))
		_, err = other.Run(ctx, theirs.Handle, garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"1000"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())

		By("refusing more containers than its capacity, leaving nothing behind")
		_, err = other.Create(ctx, garden.ContainerSpec{Handle: "second", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).NotTo(HaveOccurred())
		_, err = other.Create(ctx, garden.ContainerSpec{Handle: "third", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).To(MatchError(garden.ErrOutOfCapacity))
		Expect(filepath.Join(otherCfg.StateDir, "run", "containers", "third")).NotTo(BeAnExistingFile())

		Expect(survivorCgroup()).To(BeADirectory())
		By("abandoning it as if it had been killed, and starting a new one on the same state")
		restarted := newGarden()
		other = restarted
		Expect(restarted.List(ctx, nil)).To(BeEmpty())
		entries, err := os.ReadDir(filepath.Join(otherCfg.StateDir, "run", "runc"))
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(BeEmpty())
		Expect(survivorCgroup()).NotTo(BeAnExistingFile())
		// What is on the bridge now is the new garden's own network pool.
		pooled := restarted.PooledNetworks()
		links, err := netlink.LinkList()
		Expect(err).NotTo(HaveOccurred())
		var left []string
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, "dgk-") {
				left = append(left, l.Attrs().Name)
			}
		}
		Expect(left).To(HaveLen(pooled), "host veths %v, %d pooled", left, pooled)
		Expect(iptablesSave()).NotTo(ContainSubstring(theirs.ContainerIP + ":80"))
		mounts, err := os.ReadFile("/proc/self/mountinfo")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Contains(string(mounts), "survivor-check")).To(BeFalse())

		By("leaving the first garden's container untouched")
		status, _, _ := run(mine.Handle, sh("true"))
		Expect(status).To(Equal(0))

		By("working again on the cleaned state")
		again, err := restarted.Create(ctx, garden.ContainerSpec{Handle: "survivor-check", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Handle).To(Equal("survivor-check"))
	})

	It("starts while other links on the host come and go", func() {
		// Enough links that the kernel answers a link dump in several parts,
		// and one that appears and vanishes all the while: a change between
		// two parts marks the dump interrupted.
		for i := range 150 {
			pad := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("dgpad%d", i)}}
			Expect(netlink.LinkAdd(pad)).To(Succeed())
			DeferCleanup(func() { Expect(netlink.LinkDel(pad)).To(Succeed()) })
		}
		stop, churned := make(chan struct{}), make(chan int)
		go func() {
			n := 0
			defer func() { churned <- n }()
			churn := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "dgchurn"}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if netlink.LinkAdd(churn) == nil && netlink.LinkDel(churn) == nil {
					n++
				}
			}
		}()
		defer func() {
			close(stop)
			Expect(<-churned).To(BeNumerically(">", 0), "links changed during the starts")
		}()

		for range 5 {
			other := newGarden()
			Expect(other.Shutdown(ctx)).To(Succeed())
		}
	})

	It("ends processes left in its cgroups that no runc state knows of, when it starts", func() {
		// What a create cut short by a stopping garden leaves: a process in
		// the garden's cgroups, with no runc container to delete.
		stray := filepath.Join(filepath.Dir(survivorCgroup()), "stray")
		Expect(os.MkdirAll(stray, 0o755)).To(Succeed())
		DeferCleanup(func() { _ = os.Remove(stray) })
		sleeper := exec.Command("sleep", "1000")
		Expect(sleeper.Start()).To(Succeed())
		exited := make(chan struct{})
		go func() { _ = sleeper.Wait(); close(exited) }()
		DeferCleanup(func() { _ = sleeper.Process.Kill() })
		Expect(os.WriteFile(filepath.Join(stray, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0)).To(Succeed())

		other := newGarden()
		DeferCleanup(func() { Expect(other.Shutdown(ctx)).To(Succeed()) })
		Eventually(exited).Should(BeClosed())
		Expect(stray).NotTo(BeADirectory())
	})

	It("shut down while creates are under way, leaves none of them behind", func() {
		otherCfg.MaxContainers, otherCfg.MaxConcurrentStarts = 6, 1
		other := newGarden()
		results := make(chan error, otherCfg.MaxContainers)
		for i := range otherCfg.MaxContainers {
			go func() {
				_, err := other.Create(ctx, garden.ContainerSpec{Handle: fmt.Sprintf("inflight-%d", i), Image: garden.ImageRef{URI: busyboxURI}})
				results <- err
			}()
		}
		Eventually(func() ([]string, error) { return other.List(ctx, nil) }).ShouldNot(BeEmpty(), "one create done, the others under way or queued")

		Expect(other.Shutdown(ctx)).To(Succeed())
		// The daemon exits once Shutdown returns: a create still running then
		// would leave its container behind, with nothing to undo it.
		Expect(results).To(HaveLen(int(otherCfg.MaxContainers)), "every create ended (made and destroyed, or refused) before Shutdown returned")
		mounts, err := os.ReadFile("/proc/self/mounts")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(mounts)).NotTo(ContainSubstring(otherCfg.StateDir))
		Expect(filepath.Dir(survivorCgroup())).NotTo(BeADirectory())
		_, err = other.Create(ctx, garden.ContainerSpec{Handle: "late", Image: garden.ImageRef{URI: busyboxURI}})
		Expect(err).To(MatchError(ContainSubstring("shutting down")))
	})
})
