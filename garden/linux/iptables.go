package linux

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"unicode"

	"github.com/diego-runtime/diego/garden"
)

// iptables manages this garden's chains, every one named with the prefix:
//
//	nat    <p>-pre   jumped to from PREROUTING and OUTPUT for local
//	                 destinations; jumps to each container's <p>-i<n>
//	nat    <p>-i<n>  a container's net-in DNAT rules
//	nat    <p>-post  jumped to from POSTROUTING: masquerade outbound traffic,
//	                 loopback-sourced traffic DNATed onto the bridge, and a
//	                 container's traffic DNATed back onto the bridge (hairpin)
//	filter <p>-fwd   jumped to from FORWARD: a container's outbound traffic
//	                 goes through <p>-o<n> (when it has one); traffic to
//	                 containers is accepted
//	filter <p>-o<n>  a container's net-out rules
//
// Each change is one iptables-restore --noflush script, so it applies
// atomically; changes made together share a process (see restorer).
type iptables struct {
	prefix string
	bridge string
	subnet string
	deny   bool

	restorer restorer
}

func (t *iptables) chain(kind string, index int) string {
	return t.prefix + "-" + kind + strconv.Itoa(index)
}

func (t *iptables) restore(ctx context.Context, script string) error {
	return t.restorer.restore(ctx, script)
}

// setup removes every chain with this garden's prefix (leftovers of a garden
// that died) and installs the base chains.
func (t *iptables) setup(ctx context.Context) error {
	if err := t.removeAll(ctx); err != nil {
		return err
	}
	p := t.prefix
	return t.restore(ctx, fmt.Sprintf(`*nat
:%[1]s-pre - [0:0]
:%[1]s-post - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j %[1]s-pre
-A OUTPUT -m addrtype --dst-type LOCAL -j %[1]s-pre
-A POSTROUTING -j %[1]s-post
-A %[1]s-post -s %[2]s ! -o %[3]s -j MASQUERADE
-A %[1]s-post -s 127.0.0.0/8 -o %[3]s -j MASQUERADE
-A %[1]s-post -s %[2]s -o %[3]s -m conntrack --ctstate DNAT -j MASQUERADE
COMMIT
*filter
:%[1]s-fwd - [0:0]
-A FORWARD -j %[1]s-fwd
-A %[1]s-fwd -o %[3]s -j ACCEPT
-A %[1]s-fwd -i %[3]s -j ACCEPT
COMMIT
`, p, t.subnet, t.bridge))
}

// removeAll deletes the jumps into this garden's chains and the chains.
func (t *iptables) removeAll(ctx context.Context) error {
	var script strings.Builder
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.CommandContext(ctx, "iptables-save", "-t", table).Output()
		if err != nil {
			return fmt.Errorf("iptables-save -t %s: %w", table, err)
		}
		var jumps, chains []string
		for _, line := range strings.Split(string(out), "\n") {
			fields := strings.Fields(line)
			switch {
			case len(fields) > 0 && strings.HasPrefix(fields[0], ":"+t.prefix+"-"):
				chains = append(chains, strings.TrimPrefix(fields[0], ":"))
			case len(fields) > 2 && fields[0] == "-A" && !strings.HasPrefix(fields[1], t.prefix+"-") &&
				strings.HasPrefix(fields[len(fields)-1], t.prefix+"-"):
				jumps = append(jumps, "-D"+strings.TrimPrefix(line, "-A"))
			}
		}
		if len(jumps)+len(chains) == 0 {
			continue
		}
		script.WriteString("*" + table + "\n")
		for _, c := range chains {
			script.WriteString(":" + c + " - [0:0]\n") // declaring flushes it
		}
		for _, j := range jumps {
			script.WriteString(j + "\n")
		}
		for _, c := range chains {
			script.WriteString("-X " + c + "\n")
		}
		script.WriteString("COMMIT\n")
	}
	if script.Len() == 0 {
		return nil
	}
	return t.restore(ctx, script.String())
}

// containerRules is what a container needs in iptables.
type containerRules struct {
	index   int
	handle  string // names the container in log prefixes
	ip      net.IP
	ports   []garden.PortMapping
	netOut  []garden.NetOutRule
	hasNat  bool // the <p>-i<n> chain and its jump exist
	hasFwd  bool // the <p>-o<n> chain and its jump exist
	needFwd bool
}

// apply (re)writes a container's chains. It returns whether each chain now
// exists, for the next apply and for remove.
func (t *iptables) apply(ctx context.Context, r containerRules) (hasNat, hasFwd bool, err error) {
	needNat := len(r.ports) > 0
	needFwd := t.deny || len(r.netOut) > 0
	if !needNat && !needFwd && !r.hasNat && !r.hasFwd {
		return false, false, nil
	}
	var s strings.Builder
	in, out := t.chain("i", r.index), t.chain("o", r.index)
	if needNat {
		fmt.Fprintf(&s, "*nat\n:%s - [0:0]\n", in)
		if !r.hasNat {
			fmt.Fprintf(&s, "-A %s-pre -j %s\n", t.prefix, in)
		}
		for _, p := range r.ports {
			fmt.Fprintf(&s, "-A %s -p tcp --dport %d -j DNAT --to-destination %s:%d\n", in, p.HostPort, r.ip, p.ContainerPort)
		}
		s.WriteString("COMMIT\n")
	}
	if needFwd {
		fmt.Fprintf(&s, "*filter\n:%s - [0:0]\n", out)
		if !r.hasFwd {
			fmt.Fprintf(&s, "-I %s-fwd 1 -s %s/32 -i %s -j %s\n", t.prefix, r.ip, t.bridge, out)
		}
		fmt.Fprintf(&s, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", out)
		for _, rule := range r.netOut {
			for _, line := range netOutLines(out, rule, logPrefix(r.handle)) {
				s.WriteString(line + "\n")
			}
		}
		if t.deny {
			fmt.Fprintf(&s, "-A %s -j REJECT --reject-with icmp-port-unreachable\n", out)
		} else {
			fmt.Fprintf(&s, "-A %s -j ACCEPT\n", out)
		}
		s.WriteString("COMMIT\n")
	}
	if err := t.restore(ctx, s.String()); err != nil {
		return r.hasNat, r.hasFwd, err
	}
	return needNat || r.hasNat, needFwd || r.hasFwd, nil
}

// remove deletes a container's chains and the jumps to them.
func (t *iptables) remove(ctx context.Context, index int, ip net.IP, hasNat, hasFwd bool) error {
	var s strings.Builder
	if hasNat {
		in := t.chain("i", index)
		fmt.Fprintf(&s, "*nat\n-D %s-pre -j %s\n-F %s\n-X %s\nCOMMIT\n", t.prefix, in, in, in)
	}
	if hasFwd {
		out := t.chain("o", index)
		fmt.Fprintf(&s, "*filter\n-D %s-fwd -s %s/32 -i %s -j %s\n-F %s\n-X %s\nCOMMIT\n", t.prefix, ip, t.bridge, out, out, out)
	}
	if s.Len() == 0 {
		return nil
	}
	return t.restore(ctx, s.String())
}

// netOutLines renders one rule as ACCEPT lines in chain, each preceded by a
// LOG line when the rule asks for it. Established traffic is accepted before
// these lines, so what they log is each new connection. Containers have no
// IPv6, so an IPv6 destination renders nothing.
func netOutLines(chain string, r garden.NetOutRule, prefix string) []string {
	var match string
	switch lo, hi, isRange := strings.Cut(r.Network, "-"); {
	case r.Network == "":
	case isIPv6(lo):
		return nil
	case isRange:
		match += " -m iprange --dst-range " + lo + "-" + hi
	default:
		match += " -d " + r.Network
	}
	proto := r.Protocol
	if proto == "" {
		proto = "all"
	}
	if proto != "all" {
		match += " -p " + proto
	}
	if proto == "icmp" && r.ICMP != nil {
		match += " --icmp-type " + strconv.Itoa(int(r.ICMP.Type))
		if r.ICMP.Code != nil {
			match += "/" + strconv.Itoa(int(*r.ICMP.Code))
		}
	}
	matches := []string{match}
	if len(r.Ports) > 0 && (proto == "tcp" || proto == "udp") {
		matches = matches[:0]
		for _, p := range r.Ports {
			matches = append(matches, match+" --dport "+strings.Replace(p, "-", ":", 1))
		}
	}
	var lines []string
	for _, m := range matches {
		if r.Log {
			lines = append(lines, "-A "+chain+m+` -j LOG --log-prefix "`+prefix+`"`)
		}
		lines = append(lines, "-A "+chain+m+" -j ACCEPT")
	}
	return lines
}

// logPrefix names a container in the kernel log: its handle, cut to what
// iptables allows (29 characters) with a space to part it from the packet.
func logPrefix(handle string) string {
	safe := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || r == ':' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, handle)
	if len(safe) > 28 {
		safe = safe[:28]
	}
	return safe + " "
}

// validateNetOut checks a rule before it reaches iptables.
func validateNetOut(r garden.NetOutRule) error {
	switch r.Protocol {
	case "", "all", "tcp", "udp", "icmp":
	default:
		return garden.NewInvalidSpecError("net-out protocol %q is not tcp, udp, icmp or all", r.Protocol)
	}
	if r.Network != "" && !validNetwork(r.Network) {
		return garden.NewInvalidSpecError("net-out network %q is not an IP, a CIDR or a range a-b", r.Network)
	}
	for _, p := range r.Ports {
		lo, hi, isRange := strings.Cut(p, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || a == 0 || b < a {
			return garden.NewInvalidSpecError("net-out port %q is not a port or a from-to range", p)
		}
	}
	if len(r.Ports) > 0 && (r.Protocol == "" || r.Protocol == "all" || r.Protocol == "icmp") {
		return garden.NewInvalidSpecError("net-out ports need protocol tcp or udp")
	}
	if r.ICMP != nil && r.Protocol != "icmp" {
		return garden.NewInvalidSpecError("net-out icmp type and code need protocol icmp")
	}
	return nil
}

// validNetwork accepts an IP, a CIDR or a range "a-b" of one family.
func validNetwork(n string) bool {
	if net.ParseIP(n) != nil {
		return true
	}
	if _, _, err := net.ParseCIDR(n); err == nil {
		return true
	}
	lo, hi, ok := strings.Cut(n, "-")
	a, b := net.ParseIP(lo), net.ParseIP(hi)
	return ok && a != nil && b != nil && (a.To4() == nil) == (b.To4() == nil)
}

func isIPv6(addr string) bool {
	addr, _, _ = strings.Cut(addr, "/")
	ip := net.ParseIP(addr)
	return ip != nil && ip.To4() == nil
}
