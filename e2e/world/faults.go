package world

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
)

// cutComment tags the iptables rules CutPort adds, so Stop finds them all.
const cutComment = "diego-world-cut"

// DaemonPid is the process id of one of the cluster's daemons, named as its
// config and log are ("bbs", "route-emitter", "cell-1-rep", ...).
func (w *World) DaemonPid(name string) (int, error) {
	arg := "-config " + filepath.Join(w.StateDir, "config", name+".json")
	for _, p := range processes() {
		if strings.HasSuffix(p.cmdline, arg) || strings.Contains(p.cmdline, arg+" ") {
			return p.pid, nil
		}
	}
	return 0, fmt.Errorf("no process of daemon %s", name)
}

// Pause stops a daemon with SIGSTOP: it holds its connections but answers
// nothing and sends nothing (no heartbeat, no reply to POST /work) until
// Resume. Stop resumes every paused daemon first.
func (w *World) Pause(name string) error {
	pid, err := w.DaemonPid(name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.paused[pid] = true
	w.mu.Unlock()
	return syscall.Kill(pid, syscall.SIGSTOP)
}

// Resume continues a daemon Pause stopped.
func (w *World) Resume(name string) error {
	pid, err := w.DaemonPid(name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.paused, pid)
	w.mu.Unlock()
	return syscall.Kill(pid, syscall.SIGCONT)
}

// CutPort cuts every TCP link to a port of this machine, as a network
// partition would: every packet to or from the port is dropped, so
// connections under way hang (TCP keeps them; what was sent arrives after
// RestorePort unless a side gave up meanwhile) and new ones time out. The
// server process itself runs on (etcd keeps counting its leases down).
func (w *World) CutPort(port int) error {
	w.mu.Lock()
	w.cuts[port] = true
	w.mu.Unlock()
	for _, rule := range cutRules(port) {
		if out, err := exec.Command("iptables", append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("cutting port %d: %v: %s", port, err, out)
		}
	}
	return nil
}

// RestorePort undoes CutPort.
func (w *World) RestorePort(port int) error {
	w.mu.Lock()
	delete(w.cuts, port)
	w.mu.Unlock()
	var errs []error
	for _, rule := range cutRules(port) {
		if out, err := exec.Command("iptables", append([]string{"-D"}, rule...)...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("restoring port %d: %v: %s", port, err, out))
		}
	}
	return errors.Join(errs...)
}

// cutRules are the rules of CutPort without their -I/-D: packets towards the
// port (INPUT) and from it (OUTPUT) are dropped.
func cutRules(port int) [][]string {
	p := strconv.Itoa(port)
	tail := []string{"-m", "comment", "--comment", cutComment, "-j", "DROP"}
	return [][]string{
		append([]string{"INPUT", "-p", "tcp", "--dport", p}, tail...),
		append([]string{"OUTPUT", "-p", "tcp", "--sport", p}, tail...),
	}
}

// undoFaults resumes paused daemons and restores cut ports, so that the
// cluster can stop cleanly.
func (w *World) undoFaults() error {
	w.mu.Lock()
	paused, cuts := w.paused, w.cuts
	w.paused, w.cuts = map[int]bool{}, map[int]bool{}
	w.mu.Unlock()
	var errs []error
	for pid := range paused {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("resuming pid %d: %w", pid, err))
		}
	}
	for port := range cuts {
		errs = append(errs, w.RestorePort(port))
	}
	return errors.Join(errs...)
}

// Etcd is a client of the cluster's etcd with the BBS's certificate, for
// what only an operator does to etcd (compaction, status). Close it.
func (w *World) Etcd() (*clientv3.Client, error) {
	return etcdrunner.NewClient(etcdrunner.ClientConfig{
		Endpoints: []string{fmt.Sprintf("%s://127.0.0.1:%d", scheme(w.Config.InsecureLinks), w.Config.EtcdPort)},
		TLS:       w.Config.EtcdTLSFor(certs.Of(certs.RoleBBS)),
	})
}

func scheme(insecure bool) string {
	if insecure {
		return "http"
	}
	return "https"
}

// Relay is a TCP relay on loopback: a daemon pointed at it (with
// Options.Settings) reaches target through it, and Break ends that one
// link and no other. TLS goes through it end to end; with Delay it holds
// back what clients send, as a slow machine would.
type Relay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu       sync.Mutex
	minBytes int
	delay    time.Duration
	broken   bool
	open     map[net.Conn]bool
}

// NewRelay listens on a free loopback port and relays every connection to
// target (host:port), which need not answer yet.
func NewRelay(target string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{ln: ln, target: target, open: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Port is the port the relay listens on.
func (r *Relay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// Delay holds back by d every read from a client that carries a TLS
// application-data record and at least minBytes: requests with a body
// (POST /work) reach the target late, small ones (GET /state) and
// handshakes at once. What a client sent before it gave up is still
// delivered. Zero d turns it off.
func (r *Relay) Delay(minBytes int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.minBytes, r.delay = minBytes, d
}

// Break closes every connection through the relay (both sides see it
// end) and closes each new one at once, until Mend.
func (r *Relay) Break() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broken = true
	for c := range r.open {
		_ = c.Close()
	}
}

// Mend lets connections through again.
func (r *Relay) Mend() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broken = false
}

// track records c as open, or closes it when the relay is broken.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		_ = c.Close()
		return false
	}
	r.open[c] = true
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.open, c)
	_ = c.Close()
}

func (r *Relay) holdFor(chunk []byte) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	const tlsApplicationData = 0x17
	if r.delay > 0 && len(chunk) >= r.minBytes && chunk[0] == tlsApplicationData {
		return r.delay
	}
	return 0
}

// Close stops accepting and waits for the relay's loop (open links end
// when either side closes).
func (r *Relay) Close() error {
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

func (r *Relay) serve() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.relay(in)
	}
}

// relay copies both ways; each direction, once its source ends, closes
// its destination for writing, and both connections close when both ends
// are done.
func (r *Relay) relay(in net.Conn) {
	if !r.track(in) {
		return
	}
	defer r.untrack(in)
	out, err := net.Dial("tcp", r.target)
	if err != nil || !r.track(out) {
		return
	}
	defer r.untrack(out)
	done := make(chan struct{}, 2)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				time.Sleep(r.holdFor(buf[:n]))
				if _, werr := out.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		closeWrite(out)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(in, out)
		closeWrite(in)
		done <- struct{}{}
	}()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	}
}
