package cluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"code.cloudfoundry.org/lager/v3"
	"github.com/vishvananda/netns"
)

// With IsolateCells every cell's garden and rep run in the cell's own network
// namespace, joined to the host by a veth whose host end is a port of one host
// bridge. The cell reaches the brain (BBS, NATS) only through that link, at the
// bridge's address, where the cluster forwards to the loopback daemons; the
// brain reaches the cell (rep API, container host ports) at the cell's address.
// Taking the host end of the veth down cuts the cell off: connections to it
// time out rather than fail fast, as with a machine that dropped off the network.

// hostBridge names the host bridge of isolated cells.
func (c Config) hostBridge() string { return fmt.Sprintf("dg%dh", c.NetworkIndex) }

// clusterNetwork covers every address the cluster gives out: the cells'
// container subnets (10.<200+N>.x.0/22) and the isolated cells' link
// (10.<200+N>.252.0/24).
func (c Config) clusterNetwork() string { return fmt.Sprintf("10.%d.0.0/16", 200+c.NetworkIndex) }

// HostBridgeIP is the host's address on the isolated cells' bridge: where
// they reach the brain.
func (c Config) HostBridgeIP() string { return fmt.Sprintf("10.%d.252.1", 200+c.NetworkIndex) }

// CellNetwork is where an isolated cell lives; empty names for a cell that is
// not isolated.
type CellNetwork struct {
	Namespace string // network namespace, under /run/netns
	HostVeth  string // host end of the cell's link: set it down to cut the cell off
	IP        string // the cell's address
}

// CellNetworkOf gives cell i its namespace, link and address when cells are isolated.
func (c Config) CellNetworkOf(i int) CellNetwork {
	if !c.IsolateCells {
		return CellNetwork{}
	}
	return CellNetwork{
		Namespace: fmt.Sprintf("dg%dn%d", c.NetworkIndex, i+1),
		HostVeth:  fmt.Sprintf("dg%dv%d", c.NetworkIndex, i+1),
		IP:        fmt.Sprintf("10.%d.252.%d", 200+c.NetworkIndex, 10+i),
	}
}

// cellNetworks is an ifrit runner that sets up the isolated cells' namespaces,
// links and forwarders, and removes them all when signalled.
type cellNetworks struct {
	logger lager.Logger
	cfg    Config

	mu        sync.Mutex
	listeners []net.Listener
}

// Run implements ifrit.Runner.
func (n *cellNetworks) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	n.teardown() // whatever a killed run left
	if err := n.setup(); err != nil {
		n.teardown()
		return err
	}
	close(ready)
	<-signals
	n.teardown()
	return nil
}

func (n *cellNetworks) setup() error {
	cfg := n.cfg
	bridge, hostIP := cfg.hostBridge(), cfg.HostBridgeIP()
	cmds := [][]string{
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"ip", "link", "add", bridge, "type", "bridge"},
		{"ip", "addr", "add", hostIP + "/24", "dev", bridge},
		{"ip", "link", "set", bridge, "up"},
	}
	for i := 0; i < cfg.Cells; i++ {
		cn := cfg.CellNetworkOf(i)
		in := func(args ...string) []string { return append([]string{"ip", "netns", "exec", cn.Namespace}, args...) }
		cmds = append(cmds,
			[]string{"ip", "netns", "add", cn.Namespace},
			[]string{"ip", "link", "add", cn.HostVeth, "type", "veth", "peer", "name", "eth0", "netns", cn.Namespace},
			[]string{"ip", "link", "set", cn.HostVeth, "master", bridge},
			[]string{"ip", "link", "set", cn.HostVeth, "up"},
			in("ip", "link", "set", "lo", "up"),
			in("ip", "addr", "add", cn.IP+"/24", "dev", "eth0"),
			in("ip", "link", "set", "eth0", "up"),
			in("ip", "route", "add", "default", "via", hostIP),
			in("sysctl", "-qw", "net.ipv4.ip_forward=1"),
		)
	}
	for _, args := range cmds {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("isolating cells: %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	// Cells reach the brain at the bridge's address, through their link.
	for _, port := range []int{cfg.BBSPort, cfg.NATSPort, cfg.RegistryPort} {
		to := "127.0.0.1:" + strconv.Itoa(port)
		l, err := net.Listen("tcp", net.JoinHostPort(hostIP, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("isolating cells: %w", err)
		}
		n.serve(l, to)
	}
	// Image URIs name the registry on loopback: inside each cell, loopback
	// forwards to it across the link.
	for i := 0; i < cfg.Cells; i++ {
		cn := cfg.CellNetworkOf(i)
		l, err := listenIn(cn.Namespace, "127.0.0.1:"+strconv.Itoa(cfg.RegistryPort))
		if err != nil {
			return fmt.Errorf("isolating %s: %w", cn.Namespace, err)
		}
		n.serve(l, net.JoinHostPort(hostIP, strconv.Itoa(cfg.RegistryPort)))
	}
	return nil
}

// listenIn opens a listener inside a network namespace; the socket stays
// there whatever thread later accepts on it.
func listenIn(namespace, addr string) (net.Listener, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	origin, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer origin.Close()
	target, err := netns.GetFromName(namespace)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return nil, err
	}
	l, lerr := net.Listen("tcp", addr)
	if err := netns.Set(origin); err != nil {
		// This thread is in the wrong namespace: let it die with the goroutine.
		runtime.LockOSThread()
		return nil, errors.Join(lerr, err)
	}
	return l, lerr
}

// serve forwards every connection accepted on l to the address to. Dials
// happen in the host namespace.
func (n *cellNetworks) serve(l net.Listener, to string) {
	n.mu.Lock()
	n.listeners = append(n.listeners, l)
	n.mu.Unlock()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				upstream, err := net.Dial("tcp", to)
				if err != nil {
					n.logger.Error("forward-dial-failed", err, lager.Data{"to": to})
					return
				}
				defer upstream.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(upstream, conn); done <- struct{}{} }()
				go func() { _, _ = io.Copy(conn, upstream); done <- struct{}{} }()
				<-done
			}()
		}
	}()
}

// teardown removes the namespaces (and with them the cells' veth ends), the
// host bridge and the forwarders; missing pieces are fine.
func (n *cellNetworks) teardown() {
	n.mu.Lock()
	for _, l := range n.listeners {
		l.Close()
	}
	n.listeners = nil
	n.mu.Unlock()
	for i := 0; i < n.cfg.Cells; i++ {
		cn := n.cfg.CellNetworkOf(i)
		_ = exec.Command("ip", "link", "del", cn.HostVeth).Run()
		_ = exec.Command("ip", "netns", "del", cn.Namespace).Run()
	}
	_ = exec.Command("ip", "link", "del", n.cfg.hostBridge()).Run()
}
