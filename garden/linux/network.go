package linux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// network wires containers into this garden's bridge. It holds no locks: the
// backend serialises allocation, and each container's links are its own.
type network struct {
	bridge  string
	subnet  *net.IPNet
	gateway net.IP
	mtu     int
}

func newNetwork(cfg Config) (*network, error) {
	_, subnet, err := net.ParseCIDR(cfg.Subnet)
	if err != nil {
		return nil, err
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = defaultRouteMTU()
	}
	return &network{
		bridge:  cfg.BridgeName,
		subnet:  subnet,
		gateway: ipAt(subnet, 1),
		mtu:     mtu,
	}, nil
}

// size is the number of addresses in the subnet.
func (n *network) size() int {
	ones, bits := n.subnet.Mask.Size()
	return 1 << (bits - ones)
}

func ipAt(subnet *net.IPNet, i int) net.IP {
	base := binary.BigEndian.Uint32(subnet.IP.To4())
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, base+uint32(i))
	return ip
}

func (n *network) hostVeth(index int) string { return n.bridge + "-" + strconv.Itoa(index) }

// loopbackIndex is the interface index of lo in every network namespace.
const loopbackIndex = 1

// setup creates the bridge (if missing) with the gateway address, and turns on
// forwarding and loopback routing (net-in answers on 127.0.0.1 by DNAT to the
// bridge).
func (n *network) setup() error {
	link, err := netlink.LinkByName(n.bridge)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.bridge, MTU: n.mtu}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("creating bridge %s: %w", n.bridge, err)
		}
		if link, err = netlink.LinkByName(n.bridge); err != nil {
			return fmt.Errorf("finding bridge %s: %w", n.bridge, err)
		}
	}
	ones, _ := n.subnet.Mask.Size()
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.gateway, Mask: net.CIDRMask(ones, 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("addressing bridge %s: %w", n.bridge, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up bridge %s: %w", n.bridge, err)
	}
	for _, s := range []string{
		"/proc/sys/net/ipv4/ip_forward",
		"/proc/sys/net/ipv4/conf/" + n.bridge + "/route_localnet",
	} {
		if err := os.WriteFile(s, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("setting %s: %w", s, err)
		}
	}
	return nil
}

// teardownBridge removes the bridge (used by tests and a clean shutdown).
func (n *network) teardownBridge() error {
	link, err := netlink.LinkByName(n.bridge)
	if err != nil {
		return nil
	}
	return netlink.LinkDel(link)
}

// create wires the network namespace of the container whose init is pid (runc
// made it, so it belongs to the container's user namespace) with a veth pair: the host end on the bridge, the other end as eth0
// holding the container's IP, with a default route via the bridge.
func (n *network) create(pid, index int) (err error) {
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	defer func() {
		if err != nil {
			_ = n.destroy(index)
		}
	}()
	nsh, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening netns %s: %w", path, err)
	}
	defer nsh.Close()
	return n.wire(nsh, index)
}

// wire makes the veth pair of index into the network namespace nsh. On
// error the caller removes the host end (destroy).
func (n *network) wire(nsh netns.NsHandle, index int) error {
	br, err := netlink.LinkByName(n.bridge)
	if err != nil {
		return fmt.Errorf("finding bridge %s: %w", n.bridge, err)
	}
	// Each netlink call is a round trip under the kernel's rtnl lock, which
	// every other container's start and end also take: the peer is made as
	// eth0 in the container's namespace and the host end up, in one call.
	// The peer stays down until it is addressed, so nothing passes the
	// port before it is isolated.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.hostVeth(index), MTU: n.mtu, MasterIndex: br.Attrs().Index, Flags: net.FlagUp},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(nsh)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", veth.Name, err)
	}
	// An isolated port talks only to the bridge itself, never to another
	// container's port: tenants cannot reach each other at layer 2.
	if err := netlink.LinkSetIsolated(veth, true); err != nil {
		return fmt.Errorf("isolating bridge port %s: %w", veth.Name, err)
	}

	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return fmt.Errorf("netlink in the netns of %s: %w", n.hostVeth(index), err)
	}
	defer h.Close()
	peer, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("finding eth0 in netns: %w", err)
	}
	ones, _ := n.subnet.Mask.Size()
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: ipAt(n.subnet, index), Mask: net.CIDRMask(ones, 32)}}); err != nil {
		return fmt.Errorf("addressing eth0: %w", err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("bringing up eth0: %w", err)
	}
	// lo is the first device of every network namespace: index 1.
	if err := h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: loopbackIndex}}); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: n.gateway}); err != nil {
		return fmt.Errorf("adding default route: %w", err)
	}
	return nil
}

// destroy removes the veth (the namespace goes with the container's init); a
// missing veth is fine.
func (n *network) destroy(index int) error {
	// The kernel also removes the pair when the namespace dies, so the veth
	// may vanish between the lookup and the delete.
	if link, err := netlink.LinkByName(n.hostVeth(index)); err == nil {
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			var notFound netlink.LinkNotFoundError
			if !errors.As(err, &notFound) {
				return fmt.Errorf("deleting %s: %w", n.hostVeth(index), err)
			}
		}
	}
	return nil
}

// removeStrayLinks deletes host veths named after this bridge, left by a
// garden that died.
func (n *network) removeStrayLinks() error {
	links, err := dump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	var errs []error
	for _, l := range links {
		name := l.Attrs().Name
		for _, prefix := range []string{n.bridge + "-", n.bridge + "c"} {
			rest, ok := strings.CutPrefix(name, prefix)
			if _, err := strconv.Atoi(rest); ok && err == nil {
				if err := netlink.LinkDel(l); err != nil {
					errs = append(errs, fmt.Errorf("deleting stray %s: %w", name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// defaultRouteMTU is the MTU of the interface holding the default route, so
// container packets fit what leaves the host.
func defaultRouteMTU() int {
	if l := defaultRouteLink(); l != nil {
		return l.Attrs().MTU
	}
	return 1500
}

func defaultRouteLink() netlink.Link {
	routes, err := dump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				return l
			}
		}
	}
	return nil
}

// defaultExternalIP is the first IPv4 address of the default route's interface.
func defaultExternalIP() string {
	l := defaultRouteLink()
	if l == nil {
		return "127.0.0.1"
	}
	addrs, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(l, netlink.FAMILY_V4) })
	if err != nil || len(addrs) == 0 {
		return "127.0.0.1"
	}
	return addrs[0].IP.String()
}

// dumpAttempts bounds dump's retries: each retry follows a change made while
// the kernel answered, and changes come in short bursts (gardens starting).
const dumpAttempts = 10

// dump runs a netlink dump again while the kernel says a change interrupted it
// (netlink.ErrDumpInterrupted: another garden on this host adding or removing
// links at the same moment), so no caller acts on a partial list.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpAttempts {
		var out []T
		if out, err = list(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, fmt.Errorf("still interrupted after %d attempts: %w", dumpAttempts, err)
}
