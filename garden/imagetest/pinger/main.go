// Command pinger sends one ICMP echo request to an IPv4 address and waits two
// seconds for the reply, through an ICMP datagram socket: it needs no
// NET_RAW, only a ping_group_range that holds its group (garden sets one in
// every container). Exit 0 and "reply from ADDR" when answered; exit 1 with
// the reason otherwise. Busybox's ping needs a raw socket, so specs use this.
package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pinger IPV4")
		os.Exit(2)
	}
	if err := ping(os.Args[1]); err != nil {
		fmt.Println("no reply:", err)
		os.Exit(1)
	}
	fmt.Println("reply from", os.Args[1])
}

func ping(addr string) error {
	ip := net.ParseIP(addr).To4()
	if ip == nil {
		return fmt.Errorf("%q is not an IPv4 address", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, syscall.IPPROTO_ICMP)
	if err != nil {
		return fmt.Errorf("icmp socket: %w", err)
	}
	defer syscall.Close(fd)
	timeout := syscall.NsecToTimeval((2 * time.Second).Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &timeout); err != nil {
		return err
	}
	// Type 8 (echo request), code 0; the kernel fills in the identifier and
	// the checksum.
	request := []byte{8, 0, 0, 0, 0, 0, 0, 1, 'p', 'i', 'n', 'g'}
	to := &syscall.SockaddrInet4{}
	copy(to.Addr[:], ip)
	if err := syscall.Sendto(fd, request, 0, to); err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("waiting for the reply: %w", err)
		}
		if f, ok := from.(*syscall.SockaddrInet4); ok && f.Addr == to.Addr && n >= 8 && buf[0] == 0 {
			return nil // type 0: echo reply
		}
	}
}
