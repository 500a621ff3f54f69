package router_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// killableBackend is a real HTTP server that can die the way a SIGKILLed
// process does: its listener goes (new dials are refused) and the kernel
// closes every socket it held, idle keep-alive connections and connections
// with a request in flight alike.
type killableBackend struct {
	name   string
	addr   string
	l      net.Listener
	server *http.Server
	// holding requests wait here until the backend dies, so that a
	// request is in flight when it does.
	hold atomic.Bool
	// resetting handlers hijack the connection after reading the request
	// and reset it (SO_LINGER 0): a process killed after it accepted the
	// connection and read the request, before it answered.
	resetting atomic.Bool
	held      atomic.Int64 // requests that reached a holding handler
	resets    atomic.Int64
	killed    chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	once  sync.Once
}

func newKillableBackend(name string) *killableBackend { return newKillableBackendOn("127.0.0.1", name) }

// newKillableBackendOn listens on ip (any loopback address stands for a
// machine of its own).
func newKillableBackendOn(ip, name string) *killableBackend {
	l, err := net.Listen("tcp", ip+":0")
	Expect(err).NotTo(HaveOccurred())
	b := &killableBackend{name: name, addr: l.Addr().String(), l: l, killed: make(chan struct{}),
		conns: map[net.Conn]struct{}{}}
	b.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			if b.resetting.Load() {
				b.resets.Add(1)
				if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
				return
			}
			if b.hold.Load() {
				b.held.Add(1)
				// Dies with the request unanswered: kill resets the
				// connection before this returns.
				<-b.killed
				return
			}
			if n > 0 {
				fmt.Fprintf(w, "%s got %d bytes", b.name, n)
				return
			}
			fmt.Fprint(w, b.name)
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			b.mu.Lock()
			defer b.mu.Unlock()
			switch s {
			case http.StateNew:
				b.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(b.conns, c)
			}
		},
	}
	go b.server.Serve(l)
	DeferCleanup(func() { b.kill(false) })
	return b
}

// kill closes the listener and every connection; reset chooses an RST
// (unread data, or SO_LINGER 0) over a FIN, as the kernel does for a socket
// of a killed process that had unread bytes.
func (b *killableBackend) kill(reset bool) {
	b.once.Do(func() {
		b.l.Close()
		b.mu.Lock()
		for c := range b.conns {
			if tc, ok := c.(*net.TCPConn); ok && reset {
				tc.SetLinger(0)
			}
			c.Close()
		}
		b.mu.Unlock()
		close(b.killed)
	})
}

// midBodyResetter answers with a header announcing size bytes, sends part of
// the body, then resets the connection: a process killed while answering.
func midBodyResetter(size int) (string, *atomic.Int64) {
	var count atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(l.Close)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						c.Close()
						return
					}
					if line == "\r\n" {
						break
					}
				}
				count.Add(1)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", size, strings.Repeat("p", size/2))
				time.Sleep(20 * time.Millisecond) // the part reaches the router first
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}()
		}
	}()
	return l.Addr().String(), &count
}
