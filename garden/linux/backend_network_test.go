package linux_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/diego-runtime/diego/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Backend", func() {
	ctx := context.Background()

	Describe("networking", func() {
		It("maps a host port to the container at 127.0.0.1 and the cell's address, until destroy", func() {
			info, err := backend.Create(ctx, garden.ContainerSpec{Image: garden.ImageRef{URI: appURI}, NetIn: []garden.NetInRule{{ContainerPort: 8080}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(info.MappedPorts).To(HaveLen(1))
			port := info.MappedPorts[0].HostPort
			Expect(port).To(BeNumerically(">=", portStart))
			_, err = backend.Run(ctx, info.Handle, garden.ProcessSpec{Path: "/app/httpapp", User: "vcap"}, garden.ProcessIO{Stdout: GinkgoWriter, Stderr: GinkgoWriter})
			Expect(err).NotTo(HaveOccurred())

			for _, host := range []string{"127.0.0.1", info.ExternalIP, info.ContainerIP} {
				p := port
				if host == info.ContainerIP {
					p = 8080
				}
				url := fmt.Sprintf("http://%s:%d/health", host, p)
				Eventually(func() (int, error) { return httpStatus(url) }, 5*time.Second).Should(Equal(200), url)
			}

			Expect(backend.Destroy(ctx, info.Handle)).To(Succeed())
			_, err = httpStatus(fmt.Sprintf("http://127.0.0.1:%d/health", port))
			Expect(err).To(HaveOccurred())
		})

		It("runs a scratch image with no shell or libc, as root by default", func() {
			info := create(garden.ContainerSpec{Image: garden.ImageRef{URI: "preloaded:scratch"}})
			_, err := backend.Run(ctx, info.Handle, garden.ProcessSpec{Path: "/app/httpapp", Env: []string{"PORT=8080"}}, garden.ProcessIO{Stdout: GinkgoWriter, Stderr: GinkgoWriter})
			Expect(err).NotTo(HaveOccurred())
			url := fmt.Sprintf("http://%s:8080/health", info.ContainerIP)
			Eventually(func() (int, error) { return httpStatus(url) }, 5*time.Second).Should(Equal(200))
		})

		It("gives every container its own address", func() {
			a := create(garden.ContainerSpec{})
			b := create(garden.ContainerSpec{})
			Expect(a.ContainerIP).NotTo(Equal(b.ContainerIP))
			_, out, _ := run(a.Handle, sh("ip -4 addr show eth0 | grep -o 'inet [0-9.]*'"))
			Expect(out).To(Equal("inet " + a.ContainerIP + "\n"))
		})

		DescribeTable("renders net-out rules in every form the BBS allows",
			func(rule garden.NetOutRule, fragment string) {
				info := create(garden.ContainerSpec{})
				Expect(backend.NetOut(ctx, info.Handle, rule)).To(Succeed())
				index := info.ContainerIP[strings.LastIndex(info.ContainerIP, ".")+1:]
				var chain []string
				for _, line := range strings.Split(iptablesSave(), "\n") {
					if strings.HasPrefix(line, "-A g-"+bridgeName+"-o"+index+" ") {
						chain = append(chain, line)
					}
				}
				if fragment == "" {
					Expect(chain).To(HaveLen(2)) // established, then the default
					return
				}
				Expect(strings.Join(chain, "\n")).To(ContainSubstring(fragment))
			},
			Entry("a CIDR and a port", garden.NetOutRule{Protocol: "tcp", Network: "10.0.0.0/8", Ports: []string{"443"}}, "-d 10.0.0.0/8 -p tcp -m tcp --dport 443 -j ACCEPT"),
			Entry("a port range", garden.NetOutRule{Protocol: "udp", Network: "10.1.2.3", Ports: []string{"53-54"}}, "-d 10.1.2.3/32 -p udp -m udp --dport 53:54 -j ACCEPT"),
			Entry("an address range", garden.NetOutRule{Protocol: "all", Network: "10.0.0.1-10.0.0.9"}, "-m iprange --dst-range 10.0.0.1-10.0.0.9 -j ACCEPT"),
			Entry("icmp anywhere", garden.NetOutRule{Protocol: "icmp"}, "-p icmp -j ACCEPT"),
			Entry("IPv6, which containers do not have", garden.NetOutRule{Protocol: "tcp", Network: "fd00::/8", Ports: []string{"80"}}, ""),
		)

		DescribeTable("refuses malformed net-out rules",
			func(rule garden.NetOutRule) {
				info := create(garden.ContainerSpec{})
				Expect(backend.NetOut(ctx, info.Handle, rule)).To(MatchError(garden.ErrInvalidSpec))
			},
			Entry("unknown protocol", garden.NetOutRule{Protocol: "sctp"}),
			Entry("bad network", garden.NetOutRule{Network: "10.0.0.300"}),
			Entry("ports without tcp or udp", garden.NetOutRule{Protocol: "all", Ports: []string{"80"}}),
			Entry("bad port", garden.NetOutRule{Protocol: "tcp", Ports: []string{"0"}}),
			Entry("reversed range", garden.NetOutRule{Protocol: "tcp", Ports: []string{"90-80"}}),
		)

		It("adds net-in mappings after create", func() {
			handle := create(garden.ContainerSpec{}).Handle
			m, err := backend.NetIn(ctx, handle, garden.NetInRule{HostPort: portEnd, ContainerPort: 9000})
			Expect(err).NotTo(HaveOccurred())
			Expect(m).To(Equal(garden.PortMapping{HostPort: portEnd, ContainerPort: 9000}))
			_, err = backend.Run(ctx, handle, sh("echo hello | nc -l -p 9000"), garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() (string, error) { return readTCP(fmt.Sprintf("127.0.0.1:%d", portEnd)) }, 5*time.Second).Should(Equal("hello\n"))
		})
	})
})
