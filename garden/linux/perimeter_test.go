package linux_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/imagetest"
)

// gateway is the suite's bridge address: the host, as its containers see it.
const gateway = "10.254.40.1"

// hostListener accepts TCP connections on every host address at a free port
// and counts them.
func hostListener() (port int, accepted *atomic.Int32) {
	GinkgoHelper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(l.Close)
	accepted = &atomic.Int32{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			io.WriteString(c, "host secret\n")
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, accepted
}

// fakeMetadata serves a cloud metadata lookalike at 169.254.169.254:80 for
// the spec and counts its requests.
func fakeMetadata() *atomic.Int32 {
	GinkgoHelper()
	m, err := imagetest.StartFakeMetadata()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(m.Stop)
	return &m.Hits
}

// attempt runs script in the container and reports its output and status.
func attempt(handle, script string) (int, string) {
	GinkgoHelper()
	status, stdout, stderr := run(handle, sh(script))
	return status, stdout + stderr
}

var _ = Describe("The perimeter", func() {
	var attacker garden.ContainerInfo

	BeforeEach(func() {
		attacker = create(garden.ContainerSpec{})
	})

	It("keeps a container off every service of its host, on the bridge address and the host's others", func() {
		port, accepted := hostListener()
		// The host itself reaches the listener: the refusal below is the perimeter's.
		Expect(readTCP(fmt.Sprintf("127.0.0.1:%d", port))).To(Equal("host secret\n"))
		before := accepted.Load()

		targets := []string{gateway}
		addrs, err := net.InterfaceAddrs()
		Expect(err).NotTo(HaveOccurred())
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && ipn.IP.String() != gateway {
				targets = append(targets, ipn.IP.String())
			}
		}
		for _, t := range targets {
			status, out := attempt(attacker.Handle, fmt.Sprintf("nc -w 2 %s %d </dev/null", t, port))
			Expect(out).NotTo(ContainSubstring("host secret"), "reached the host at %s", t)
			Expect(status).NotTo(BeZero(), "reached the host at %s", t)
		}
		Expect(accepted.Load()).To(Equal(before))
	})

	It("keeps a container off link-local metadata, even when its net-out rules name it", func() {
		hits := fakeMetadata()
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://169.254.169.254/")
		Expect(err).NotTo(HaveOccurred(), "the host reaches the fake metadata server")
		resp.Body.Close()
		Expect(hits.Load()).To(Equal(int32(1)))

		Expect(backend.NetOut(context.Background(), attacker.Handle, garden.NetOutRule{Protocol: "all", Network: "169.254.0.0/16"})).To(Succeed())
		// busybox's wget is not used: it crashes in these containers, which
		// would pass the spec for the wrong reason.
		status, out := attempt(attacker.Handle, `printf 'GET /latest/meta-data/ HTTP/1.0\r\n\r\n' | nc -w 2 169.254.169.254 80`)
		Expect(status).NotTo(BeZero())
		Expect(out).NotTo(ContainSubstring("canary"))
		Expect(hits.Load()).To(Equal(int32(1)))
	})

	It("keeps containers apart on the bridge", func() {
		victim := create(garden.ContainerSpec{})
		_, err := backend.Run(context.Background(), victim.Handle, sh("while true; do echo victim | nc -l -p 7000; done"), garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		// The victim answers from inside itself, so it is listening.
		Eventually(func() string {
			_, out := attempt(victim.Handle, "nc -w 1 127.0.0.1 7000 </dev/null")
			return out
		}, 5*time.Second).Should(Equal("victim\n"))

		status, out := attempt(attacker.Handle, "nc -w 2 "+victim.ContainerIP+" 7000 </dev/null")
		Expect(status).NotTo(BeZero())
		Expect(out).NotTo(ContainSubstring("victim"))
	})

	It("keeps a container off another's mapped port on the cell, which the host still reaches", func() {
		victim := create(garden.ContainerSpec{NetIn: []garden.NetInRule{{ContainerPort: 7100}}})
		_, err := backend.Run(context.Background(), victim.Handle, sh("while true; do echo victim | nc -l -p 7100; done"), garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		mapped := fmt.Sprintf("%s:%d", victim.ExternalIP, victim.MappedPorts[0].HostPort)
		Eventually(func() (string, error) { return readTCP(mapped) }, 5*time.Second).Should(Equal("victim\n"))

		status, out := attempt(attacker.Handle, fmt.Sprintf("nc -w 2 %s %d </dev/null", victim.ExternalIP, victim.MappedPorts[0].HostPort))
		Expect(status).NotTo(BeZero())
		Expect(out).NotTo(ContainSubstring("victim"))
	})

	It("is jumped to before anything else on INPUT and FORWARD", func() {
		var input, forward []string
		for _, line := range strings.Split(iptablesSave(), "\n") {
			switch {
			case strings.HasPrefix(line, "-A INPUT "):
				input = append(input, line)
			case strings.HasPrefix(line, "-A FORWARD "):
				forward = append(forward, line)
			}
		}
		Expect(input).To(ContainElement("-A INPUT -i " + bridgeName + " -j g-" + bridgeName + "-pin"))
		Expect(forward).To(ContainElement("-A FORWARD -i " + bridgeName + " -j g-" + bridgeName + "-pfwd"))
		Expect(indexOf(forward, "-pfwd")).To(BeNumerically("<", indexOf(forward, "g-"+bridgeName+"-fwd")))
	})
})

func indexOf(lines []string, fragment string) int {
	for i, l := range lines {
		if strings.HasSuffix(l, fragment) {
			return i
		}
	}
	return len(lines)
}
