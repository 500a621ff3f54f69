package receptor

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/diego-runtime/diego/internal/netguard"
)

// loopbackNetworks are the entries of netguard.DefaultDenied that
// AllowLoopback takes off.
var loopbackNetworks = []string{"127.0.0.0/8", "::1/128"}

// CallbackDenyList is what a completion callback may not reach: everything
// in netguard.DefaultDenied (loopback, 0.0.0.0/8, link-local, where cloud
// metadata lives), every address of this host's interfaces, and extra (CIDRs
// or addresses, say the control plane's network). With allowLoopback,
// loopback addresses are taken off both the defaults and the host's
// addresses; nothing else is.
func CallbackDenyList(extra []string, allowLoopback bool) (netguard.DenyList, error) {
	var entries []string
	for _, e := range netguard.DefaultDenied {
		if allowLoopback && slices.Contains(loopbackNetworks, e) {
			continue
		}
		entries = append(entries, e)
	}
	entries = append(entries, extra...)
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netguard.DenyList{}, fmt.Errorf("receptor: listing this host's addresses: %w", err)
	}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipnet.IP)
		if !ok || (allowLoopback && ip.Unmap().IsLoopback()) {
			continue
		}
		entries = append(entries, ip.Unmap().String())
	}
	return netguard.Parse(entries...)
}
