package linux_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netns"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/diego-runtime/diego/garden/linux"
)

// testHost is a network namespace standing in for a machine the containers
// may or may not reach: a veth pair whose host end routes to it, with two
// addresses, TCP servers that answer "pong-PORT" and UDP ports that count what
// they receive. The kernel answers pings.
type testHost struct {
	name     string
	ns       netns.NsHandle
	allowed  string // the address rules name
	other    string // an address no rule names
	mu       sync.Mutex
	received map[int]int // UDP datagrams per port
}

const (
	netOutBridge = "dge"
	netOutSubnet = "10.254.45.0/24"
)

func startTestHost(tcpPorts, udpPorts []int) *testHost {
	GinkgoHelper()
	h := &testHost{name: "dge-host", allowed: "10.254.46.2", other: "10.254.46.3", received: map[int]int{}}
	ip := func(args ...string) {
		GinkgoHelper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "ip %v: %s", args, out)
	}
	_ = exec.Command("ip", "netns", "del", h.name).Run() // a killed run's leftover
	ip("netns", "add", h.name)
	DeferCleanup(func() { _ = exec.Command("ip", "netns", "del", h.name).Run() })
	ip("link", "add", "dgeh0", "type", "veth", "peer", "name", "dgeh1", "netns", h.name)
	DeferCleanup(func() { _ = exec.Command("ip", "link", "del", "dgeh0").Run() })
	ip("addr", "add", "10.254.46.1/29", "dev", "dgeh0")
	ip("link", "set", "dgeh0", "up")
	ip("-n", h.name, "addr", "add", h.allowed+"/29", "dev", "dgeh1")
	ip("-n", h.name, "addr", "add", h.other+"/29", "dev", "dgeh1")
	ip("-n", h.name, "link", "set", "dgeh1", "up")
	ip("-n", h.name, "link", "set", "lo", "up")

	var err error
	h.ns, err = netns.GetFromName(h.name)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(h.ns.Close)
	for _, port := range tcpPorts {
		l := h.listen(func() (any, error) { return net.Listen("tcp", fmt.Sprintf(":%d", port)) }).(net.Listener)
		DeferCleanup(l.Close)
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(conn, "pong-%d\n", port)
				conn.Close()
			}
		}()
	}
	for _, port := range udpPorts {
		pc := h.listen(func() (any, error) { return net.ListenPacket("udp", fmt.Sprintf(":%d", port)) }).(net.PacketConn)
		DeferCleanup(pc.Close)
		go func() {
			buf := make([]byte, 1500)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				h.mu.Lock()
				h.received[port]++
				h.mu.Unlock()
				// A TFTP error packet, so that busybox's tftp stops at once.
				_, _ = pc.WriteTo(append([]byte{0, 5, 0, 0}, "udp-pong\x00"...), from)
			}
		}()
	}
	return h
}

// listen opens a socket inside the namespace; it stays there once the thread
// goes back.
func (h *testHost) listen(open func() (any, error)) any {
	GinkgoHelper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	home, err := netns.Get()
	Expect(err).NotTo(HaveOccurred())
	defer home.Close()
	Expect(netns.Set(h.ns)).To(Succeed())
	sock, openErr := open()
	Expect(netns.Set(home)).To(Succeed())
	Expect(openErr).NotTo(HaveOccurred())
	return sock
}

func (h *testHost) udpReceived(port int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.received[port]
}

var _ = Describe("Net-out rules on a garden that denies the rest", Ordered, func() {
	ctx := context.Background()
	var (
		denying *linux.Backend
		host    *testHost
		pinger  string // a directory holding the pinger command
	)

	BeforeAll(func() {
		c := linux.DefaultConfig()
		c.InitPath = cfg.InitPath
		c.StateDir = filepath.Join(stateDir, "g-netout")
		c.BridgeName = netOutBridge
		c.Subnet = netOutSubnet
		c.PortRangeStart, c.PortRangeEnd = 62410, 62419
		c.MaxContainers = 4
		c.DenyNetOut = true
		s, err := image.NewStore(logger, image.StoreConfig{Dir: filepath.Join(stateDir, "img-netout"), InsecureRegistries: []string{registry.Host}})
		Expect(err).NotTo(HaveOccurred())
		denying, err = linux.New(logger, clock.NewClock(), c, s)
		Expect(err).NotTo(HaveOccurred())
		Expect(denying.Start(ctx)).To(Succeed())
		DeferCleanup(func() { Expect(denying.Shutdown(ctx)).To(Succeed()); s.Close() })
		host = startTestHost([]int{7001, 7002, 7003, 7010}, []int{7101, 7102})
		pinger = filepath.Join(stateDir, "pinger")
		Expect(os.MkdirAll(pinger, 0o755)).To(Succeed())
		_, err = imagetest.BuildPinger(pinger)
		Expect(err).NotTo(HaveOccurred())
	})

	// container makes a container with the given rules and removes it after the spec.
	container := func(rules ...garden.NetOutRule) string {
		GinkgoHelper()
		info, err := denying.Create(ctx, garden.ContainerSpec{Image: garden.ImageRef{URI: busyboxURI}, NetOut: rules,
			BindMounts: []garden.BindMount{{SrcPath: pinger, DstPath: "/opt/pinger", ReadOnly: true}}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(denying.Destroy(ctx, info.Handle)).To(Succeed()) })
		return info.Handle
	}
	shell := func(handle, script string) (int, string) {
		GinkgoHelper()
		var out syncBuffer
		p, err := denying.Run(ctx, handle, sh(script), garden.ProcessIO{Stdout: &out, Stderr: &out})
		Expect(err).NotTo(HaveOccurred())
		status, err := p.Wait()
		Expect(err).NotTo(HaveOccurred())
		return status, out.String()
	}
	// dial answers what the test host said: "pong-PORT" when reached.
	dial := func(handle, addr string, port int) string {
		_, out := shell(handle, fmt.Sprintf("nc -w 1 %s %d </dev/null", addr, port))
		return out
	}
	dialSlow := func(handle, addr string, port int) string {
		_, out := shell(handle, fmt.Sprintf("nc -w 5 %s %d </dev/null", addr, port))
		return out
	}
	// reaches dials until the host answers: a refusal shows at once, but a
	// reply can miss nc's one second on a loaded machine or in the v2 guest.
	reaches := func(handle, addr string, port int) {
		GinkgoHelper()
		Eventually(func() string {
			_, out := shell(handle, fmt.Sprintf("nc -w 3 %s %d </dev/null", addr, port))
			return out
		}, 15*time.Second, 250*time.Millisecond).Should(Equal(fmt.Sprintf("pong-%d\n", port)))
	}
	sendUDP := func(handle string, port int) string {
		_, out := shell(handle, fmt.Sprintf("timeout 3 busybox tftp -g -r f -l /tmp/f %s %d", host.allowed, port))
		return out
	}
	// ping answers the pinger's exit status and what it said (busybox's ping
	// needs NET_RAW, which containers do not have).
	ping := func(handle string) (int, string) {
		return shell(handle, "/opt/pinger/pinger "+host.allowed)
	}

	It("allows tcp to the ports a rule lists, and nothing else", func() {
		h := container(garden.NetOutRule{Protocol: "tcp", Network: host.allowed, Ports: []string{"7001", "7003"}})
		reaches(h, host.allowed, 7001)
		reaches(h, host.allowed, 7003)
		Expect(dial(h, host.allowed, 7002)).NotTo(ContainSubstring("pong"))
		Expect(dial(h, host.other, 7001)).NotTo(ContainSubstring("pong"), "the rule names another address")
	})

	It("allows tcp to a port range, bounds included", func() {
		h := container(garden.NetOutRule{Protocol: "tcp", Network: "10.254.46.0/29", Ports: []string{"7001-7003"}})
		reaches(h, host.allowed, 7001)
		reaches(h, host.other, 7003)
		Expect(dial(h, host.allowed, 7010)).NotTo(ContainSubstring("pong"))
	})

	It("denies everything when a container has no rules", func() {
		h := container()
		Expect(dial(h, host.allowed, 7001)).NotTo(ContainSubstring("pong"))
		status, out := ping(h)
		Expect(status).NotTo(BeZero(), out)
	})

	It("allows udp to the ports a rule lists", func() {
		h := container(garden.NetOutRule{Protocol: "udp", Network: host.allowed, Ports: []string{"7101"}})
		Eventually(func() string { return sendUDP(h, 7101) }, 15*time.Second, 250*time.Millisecond).Should(ContainSubstring("udp-pong"))
		Expect(host.udpReceived(7101)).To(BeNumerically(">=", 1))
		Expect(sendUDP(h, 7102)).NotTo(ContainSubstring("udp-pong"))
		Expect(host.udpReceived(7102)).To(BeZero())
	})

	It("does not let a tcp rule carry udp", func() {
		h := container(garden.NetOutRule{Protocol: "tcp", Network: host.allowed, Ports: []string{"7102"}})
		Expect(sendUDP(h, 7102)).NotTo(ContainSubstring("udp-pong"))
		Expect(host.udpReceived(7102)).To(BeZero())
	})

	DescribeTable("matches icmp by type and code",
		func(control *garden.ICMPControl, reaches bool) {
			h := container(garden.NetOutRule{Protocol: "icmp", Network: host.allowed, ICMP: control})
			status, out := ping(h)
			if reaches {
				Expect(status).To(BeZero(), out)
				Expect(out).To(Equal("reply from " + host.allowed + "\n"))
			} else {
				Expect(status).NotTo(BeZero(), out)
				Expect(out).To(HavePrefix("no reply"))
			}
		},
		Entry("echo request, type 8 code 0: ping passes", &garden.ICMPControl{Type: 8, Code: code(0)}, true),
		Entry("type 8, any code: ping passes", &garden.ICMPControl{Type: 8}, true),
		Entry("every icmp message: ping passes", nil, true),
		Entry("type 13 (timestamp): ping is refused", &garden.ICMPControl{Type: 13, Code: code(0)}, false),
		Entry("type 8 with another code: ping is refused", &garden.ICMPControl{Type: 8, Code: code(1)}, false),
	)

	It("logs the connections a rule with log allows, under the container's handle", func() {
		h := container(garden.NetOutRule{Protocol: "tcp", Network: host.allowed, Ports: []string{"7001"}, Log: true})
		logged := func() int {
			out, err := exec.Command("iptables-save", "-c", "-t", "filter").Output()
			Expect(err).NotTo(HaveOccurred())
			re := regexp.MustCompile(`(?m)^\[(\d+):\d+\] -A g-` + netOutBridge + `-o\d+ -d ` + regexp.QuoteMeta(host.allowed) +
				`/32 -p tcp -m tcp --dport 7001 -j LOG --log-prefix "` + regexp.QuoteMeta(h) + ` "$`)
			m := re.FindStringSubmatch(string(out))
			Expect(m).NotTo(BeNil(), "a LOG rule naming %s:\n%s", h, out)
			n, _ := strconv.Atoi(m[1])
			return n
		}
		Expect(logged()).To(BeZero())
		Expect(dialSlow(h, host.allowed, 7001)).To(Equal("pong-7001\n"), "each connection is counted, so it is dialled once")
		Expect(dialSlow(h, host.allowed, 7001)).To(Equal("pong-7001\n"), "each connection is counted, so it is dialled once")
		Expect(logged()).To(Equal(2), "one line per connection, not per packet")
		kernelLog := func() string {
			out, err := exec.Command("dmesg").Output()
			Expect(err).NotTo(HaveOccurred())
			return string(out)
		}
		Eventually(kernelLog).Should(MatchRegexp(regexp.QuoteMeta(h) + ` IN=` + netOutBridge + ` OUT=dgeh0 .*DST=` +
			regexp.QuoteMeta(host.allowed) + ` .*PROTO=TCP .*DPT=7001 `))
		Expect(dial(h, host.allowed, 7002)).NotTo(ContainSubstring("pong"))
		Expect(logged()).To(Equal(2), "refused traffic is not logged as allowed")
	})

	It("adds rules to a running container through NetOut", func() {
		h := container()
		Expect(dial(h, host.allowed, 7010)).NotTo(ContainSubstring("pong"))
		Expect(denying.NetOut(ctx, h, garden.NetOutRule{Protocol: "tcp", Network: host.allowed, Ports: []string{"7010"}})).To(Succeed())
		reaches(h, host.allowed, 7010)
		Expect(denying.NetOut(ctx, h, garden.NetOutRule{Protocol: "tcp", ICMP: &garden.ICMPControl{Type: 8}})).
			To(MatchError(garden.ErrInvalidSpec), "icmp type and code need protocol icmp")
	})
})

func code(c uint8) *uint8 { return &c }

var _ = DescribeTable("A net-out rule's log prefix",
	func(handle, prefix string) {
		Expect(linux.LogPrefix(handle)).To(Equal(prefix))
		Expect(len(linux.LogPrefix(handle))).To(BeNumerically("<=", 29))
	},
	Entry("a guid, cut to 28 characters and a space", "0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-7086 "),
	Entry("a short handle", "web-0", "web-0 "),
	Entry("characters a shell or iptables would trip on", `a "b" c;d`, "a__b__c_d "),
)
