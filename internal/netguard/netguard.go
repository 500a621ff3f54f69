// Package netguard keeps connections that a daemon makes on a tenant's
// behalf (a download action's URL, a task's completion callback) away from
// what a tenant must not reach: the host itself, link-local metadata services,
// the control plane. The check runs when the socket connects, after DNS, so a
// name that resolves to a denied address, and every hop of a redirect, are
// refused alike; proxies from the environment are never used.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// DefaultDenied are denied whatever the operator adds: loopback, "this
// host" (0.0.0.0 connects to the host), link-local (cloud metadata lives at
// 169.254.169.254) and their IPv6 forms.
var DefaultDenied = []string{
	"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16",
	"::/128", "::1/128", "fe80::/10",
}

// ErrDenied is the error (wrapped in a *DeniedError) for a refused connection.
var ErrDenied = errors.New("destination is denied")

// DeniedError names the address a connection was refused to.
type DeniedError struct{ Address string }

func (e *DeniedError) Error() string {
	return fmt.Sprintf("netguard: %s is not reachable from tenant work (host, link-local or control-plane address)", e.Address)
}

// Unwrap makes errors.Is(err, ErrDenied) hold.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// DenyList is a set of networks. The zero value denies nothing; use New.
type DenyList struct {
	prefixes []netip.Prefix
}

// New parses entries (CIDRs or single addresses) on top of DefaultDenied:
// what a daemon uses.
func New(entries ...string) (DenyList, error) {
	return Parse(append(append([]string{}, DefaultDenied...), entries...)...)
}

// Parse is exactly the entries given, without DefaultDenied.
func Parse(entries ...string) (DenyList, error) {
	var d DenyList
	for _, e := range entries {
		p, err := parseEntry(e)
		if err != nil {
			return DenyList{}, err
		}
		d.prefixes = append(d.prefixes, p)
	}
	return d, nil
}

func parseEntry(e string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(e); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("netguard: %q is neither an address nor a CIDR", e)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// WithHostAddresses adds every address of this host's interfaces.
func (d DenyList) WithHostAddresses() (DenyList, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return d, fmt.Errorf("netguard: listing this host's addresses: %w", err)
	}
	out := DenyList{prefixes: append([]netip.Prefix{}, d.prefixes...)}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(ipnet.IP); ok {
			ip = ip.Unmap()
			out.prefixes = append(out.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out, nil
}

// Denies reports whether ip falls in the list (IPv4-mapped IPv6 addresses
// are checked as IPv4).
func (d DenyList) Denies(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range d.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function: it refuses a socket about to
// connect to a denied address.
func (d DenyList) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: unexpected dial address %q: %w", address, err)
	}
	if d.Denies(ap.Addr()) {
		return &DeniedError{Address: address}
	}
	return nil
}

// HTTPClient returns a client whose every connection, including each
// redirect's, is checked against the list, that never uses a proxy from the
// environment, and that gives up after timeout (0: no limit).
func (d DenyList) HTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: d.Control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil, // HTTP(S)_PROXY would carry the request past the check
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
}
