package linux_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/diego-runtime/diego/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
)

var _ = Describe("Backend", func() {
	ctx := context.Background()

	Describe("destroy", func() {
		It("leaves no process, mount, cgroup, veth, rule or directory behind", func() {
			info, err := backend.Create(ctx, garden.ContainerSpec{Handle: "doomed", Image: garden.ImageRef{URI: busyboxURI}, NetIn: []garden.NetInRule{{ContainerPort: 8080}}, NetOut: []garden.NetOutRule{{Protocol: "tcp", Network: "10.254.40.0/24", Ports: []string{"80"}}}})
			Expect(err).NotTo(HaveOccurred())
			_, err = backend.Run(ctx, "doomed", garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"987654"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			By("checking the traces exist first, so their absence means something")
			Eventually(func() error { return exec.Command("pgrep", "-f", "sleep 987654").Run() }).Should(Succeed())
			Expect(iptablesSave()).To(ContainSubstring(info.ContainerIP))
			Expect(cgroupPath("memory", "doomed", "")).To(BeADirectory())
			Expect(filepath.Join(cfg.StateDir, "run", "containers", "doomed")).To(BeADirectory())
			index := info.ContainerIP[strings.LastIndex(info.ContainerIP, ".")+1:]
			_, err = netlink.LinkByName(bridgeName + "-" + index)
			Expect(err).NotTo(HaveOccurred())
			mounts, err := os.ReadFile("/proc/self/mountinfo")
			Expect(err).NotTo(HaveOccurred())
			Expect(string(mounts)).To(ContainSubstring("/doomed/"))

			Expect(backend.Destroy(ctx, "doomed")).To(Succeed())
			expectNoTrace("doomed", info.ContainerIP)
			Expect(exec.Command("pgrep", "-f", "sleep 987654").Run()).NotTo(Succeed())
			Expect(zombieChildren()).To(BeEmpty()) // garden reaped init and the process
			Expect(exec.Command("pgrep", "-f", "runc --root "+cfg.StateDir).Run()).NotTo(Succeed())
		})
	})

	Describe("listing", func() {
		It("filters by properties", func() {
			a := create(garden.ContainerSpec{Properties: map[string]string{"app": "a", "zone": "z1"}})
			b := create(garden.ContainerSpec{Properties: map[string]string{"app": "b", "zone": "z1"}})
			Expect(backend.List(ctx, map[string]string{"app": "a"})).To(Equal([]string{a.Handle}))
			Expect(backend.List(ctx, map[string]string{"zone": "z1"})).To(ConsistOf(a.Handle, b.Handle))
			Expect(backend.List(ctx, map[string]string{"zone": "z2"})).To(BeEmpty())
		})
	})

	Describe("concurrent creates", func() {
		It("creates many containers at once, each with its own address", func() {
			const n = 8
			var wg sync.WaitGroup
			infos := make([]garden.ContainerInfo, n)
			errs := make([]error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					infos[i], errs[i] = backend.Create(ctx, garden.ContainerSpec{Image: garden.ImageRef{URI: busyboxURI}, NetIn: []garden.NetInRule{{ContainerPort: 8080}}})
				}()
			}
			wg.Wait()
			ips := map[string]bool{}
			for i := 0; i < n; i++ {
				Expect(errs[i]).NotTo(HaveOccurred())
				DeferCleanup(backend.Destroy, ctx, infos[i].Handle)
				ips[infos[i].ContainerIP] = true
			}
			Expect(ips).To(HaveLen(n))
		})
	})
})
