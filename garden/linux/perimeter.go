package linux

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// The perimeter keeps every container away from what no tenant may reach,
// whatever its own net-out rules say. It has two chains of its own, jumped to
// first from INPUT and FORWARD for traffic that comes in on the bridge:
//
//	filter <p>-pin   anything from a container to this host itself (any of
//	                 its addresses, loopback-bound services on the bridge
//	                 address, 169.254.169.254 bound to lo): only replies pass
//	filter <p>-pfwd  anything from a container routed onwards: replies pass;
//	                 the deny list (link-local, the host's and the control
//	                 plane's networks) and other containers, directly or
//	                 through a host port, are refused
//
// Containers on the bridge cannot even reach each other at layer 2: every
// host veth is an isolated bridge port (network.create).
//
// Net-out rules only ever open destinations beyond the perimeter: its chains
// come before garden's <p>-fwd, and a refusal there is final.

// DefaultDenyNetworks are refused to every container whatever the operator
// configures: link-local (cloud metadata services) and "this network".
var DefaultDenyNetworks = []string{"169.254.0.0/16", "0.0.0.0/8"}

// perimeter renders and installs the perimeter chains.
type perimeter struct {
	prefix string
	bridge string
	deny   []string // CIDRs, the operator's and the defaults
}

func (p *perimeter) inChain() string  { return p.prefix + "-pin" }
func (p *perimeter) fwdChain() string { return p.prefix + "-pfwd" }

// script is the iptables-restore input that installs the chains and their
// jumps (at the head of INPUT and FORWARD).
func (p *perimeter) script() string {
	var b strings.Builder
	in, fwd := p.inChain(), p.fwdChain()
	fmt.Fprintf(&b, "*filter\n:%s - [0:0]\n:%s - [0:0]\n", in, fwd)
	fmt.Fprintf(&b, "-I INPUT 1 -i %s -j %s\n", p.bridge, in)
	fmt.Fprintf(&b, "-I FORWARD 1 -i %s -j %s\n", p.bridge, fwd)
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n", in)
	reject(&b, in, "")
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN\n", fwd)
	reject(&b, fwd, "-o "+p.bridge+" ")
	for _, d := range p.deny {
		reject(&b, fwd, "-d "+d+" ")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// reject refuses matching traffic at once (a reset for TCP, port unreachable
// otherwise), so a probing tenant learns nothing from timing and a
// legitimate client fails fast.
func reject(b *strings.Builder, chain, match string) {
	fmt.Fprintf(b, "-A %s %s-p tcp -j REJECT --reject-with tcp-reset\n", chain, match)
	fmt.Fprintf(b, "-A %s %s-j REJECT --reject-with icmp-port-unreachable\n", chain, match)
}

// install adds the chains; setup has already removed any earlier copy (every
// chain with the prefix).
func (p *perimeter) install(ctx context.Context, ipt *iptables) error {
	return ipt.restore(ctx, p.script())
}

// perimeterDeny is the deny list of a config: the defaults, the operator's
// entries, and every address of this host (which reach the host through
// FORWARD when they are another interface's).
func perimeterDeny(extra []string) ([]string, error) {
	out := append([]string{}, DefaultDenyNetworks...)
	for _, e := range extra {
		cidr, err := denyCIDR(e)
		if err != nil {
			return nil, err
		}
		out = append(out, cidr)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing this host's addresses: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			out = append(out, ipn.IP.String()+"/32")
		}
	}
	return out, nil
}

// denyCIDR accepts an IPv4 address or CIDR.
func denyCIDR(e string) (string, error) {
	if ip := net.ParseIP(e); ip != nil && ip.To4() != nil {
		return ip.String() + "/32", nil
	}
	if ip, n, err := net.ParseCIDR(e); err == nil && ip.To4() != nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("garden config: deny_networks entry %q is not an IPv4 address or CIDR", e)
}
