package linux_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/garden"
)

// An interactive process: what it prints lands in out, what the spec types
// goes to in.
type terminal struct {
	in  *io.PipeWriter
	out *gbytes.Buffer
	p   garden.Process
}

func startOn(b garden.Backend, handle string, spec garden.ProcessSpec) *terminal {
	inR, inW := io.Pipe()
	out := gbytes.NewBuffer()
	p, err := b.Run(context.Background(), handle, spec, garden.ProcessIO{Stdin: inR, Stdout: out, Stderr: out})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { inW.Close(); _ = p.Signal(9) })
	return &terminal{in: inW, out: out, p: p}
}

func (t *terminal) typeLine(line string) {
	_, err := t.in.Write([]byte(line + "\n"))
	Expect(err).NotTo(HaveOccurred())
}

func shellOnTerminal(rows, cols uint16) garden.ProcessSpec {
	spec := garden.ProcessSpec{Path: "/bin/sh", Env: []string{"TERM=xterm"}}
	spec.TTY = &garden.WindowSize{Rows: rows, Cols: cols}
	return spec
}

// The same specs through the garden client and server (the rep's path).
func throughTheWire() garden.Backend {
	dir, err := os.MkdirTemp("", "garden-tty-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	sock := filepath.Join(dir, "garden.sock")
	proc := ifrit.Invoke(garden.NewServer(logger, sock, backend))
	DeferCleanup(func() { proc.Signal(os.Interrupt); Eventually(proc.Wait()).Should(Receive()) })
	return garden.NewClient(sock)
}

var _ = Describe("Processes on a terminal and with input", func() {
	var handle string
	BeforeEach(func() { handle = create(garden.ContainerSpec{}).Handle })

	// Over the wire a resize is a frame sent without an answer.
	It("refuses to resize a process without a terminal", func() {
		t := startOn(backend, handle, sh("cat"))
		Expect(t.p.Resize(garden.WindowSize{Rows: 1, Cols: 1})).To(MatchError(ContainSubstring("no terminal")))
	})

	for _, via := range []struct {
		name    string
		backend func() garden.Backend
	}{
		{"in garden", func() garden.Backend { return backend }},
		{"through garden's client and server", throughTheWire},
	} {
		Context(via.name, func() {
			It("gives a process a terminal of the container's own devpts, of the asked size", func() {
				spec := shellOnTerminal(30, 100)
				spec.Args = []string{"-c", "tty; test -t 0 && test -t 1 && echo is-a-terminal; stty size"}
				t := startOn(via.backend(), handle, spec)
				Expect(t.p.Wait()).To(Equal(0))
				Expect(t.out).To(gbytes.Say(`/dev/pts/\d+`))
				Expect(t.out).To(gbytes.Say("is-a-terminal"))
				Expect(t.out).To(gbytes.Say(`30 100`))
			})

			It("resizes the terminal, echoes what is typed, and returns the shell's exit status", func() {
				t := startOn(via.backend(), handle, shellOnTerminal(24, 80))
				t.typeLine("stty size")
				Eventually(t.out).Should(gbytes.Say(`24 80`))
				Expect(t.p.Resize(garden.WindowSize{Rows: 50, Cols: 132})).To(Succeed())
				t.typeLine("stty size")
				Eventually(t.out).Should(gbytes.Say(`50 132`))
				t.typeLine("exit 3")
				Expect(t.p.Wait()).To(Equal(3))
			})

			It("feeds a process without a terminal its input, which ends when the caller's does", func() {
				t := startOn(via.backend(), handle, sh("test -t 0 || echo no-terminal; cat; echo done"))
				t.typeLine("hello from stdin")
				t.in.Close()
				Expect(t.p.Wait()).To(Equal(0))
				Expect(t.out).To(gbytes.Say("no-terminal\nhello from stdin\ndone\n"))
			})

			It("dials from inside the container: its own loopback, where only the container's process listens", func() {
				_, err := backend.Run(context.Background(), handle, sh("echo hello-from-inside | nc -l -p 7777 127.0.0.1"), garden.ProcessIO{})
				Expect(err).NotTo(HaveOccurred())
				var conn net.Conn
				Eventually(func() error {
					var err error
					conn, err = via.backend().Dial(context.Background(), handle, "localhost:7777")
					return err
				}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
				defer conn.Close()
				Expect(conn.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
				Expect(io.ReadAll(conn)).To(Equal([]byte("hello-from-inside\n")))
				// The host's loopback is not the container's: nothing answers there.
				_, err = net.DialTimeout("tcp", "127.0.0.1:7777", time.Second)
				Expect(err).To(HaveOccurred())
			})

			It("refuses to dial a name, which only the host could resolve", func() {
				_, err := via.backend().Dial(context.Background(), handle, "example.com:80")
				Expect(err).To(MatchError(ContainSubstring("must be an IP address")))
			})
		})
	}
})

// The attack: a tenant with `diego ssh -L` asks garden to dial its host, the
// gateway or the host's loopback, hoping the forward starts outside the
// container's perimeter.
var _ = Describe("A dial from inside a container (diego ssh -L)", func() {
	It("reaches none of its host's services: the perimeter applies, and localhost is the container's", func() {
		handle := create(garden.ContainerSpec{}).Handle
		port, accepted := hostListener()
		// The host itself reaches the listener: the refusals below are the perimeter's.
		Expect(readTCP(fmt.Sprintf("127.0.0.1:%d", port))).To(Equal("host secret\n"))
		before := accepted.Load()

		targets := []string{gateway, "127.0.0.1", "localhost"}
		addrs, err := net.InterfaceAddrs()
		Expect(err).NotTo(HaveOccurred())
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && ipn.IP.String() != gateway {
				targets = append(targets, ipn.IP.String())
			}
		}
		for _, t := range targets {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			conn, err := backend.Dial(ctx, handle, net.JoinHostPort(t, strconv.Itoa(port)))
			cancel()
			if err == nil {
				_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				got, _ := io.ReadAll(conn)
				conn.Close()
				Expect(string(got)).NotTo(ContainSubstring("host secret"), "reached the host at %s", t)
			}
		}
		Expect(accepted.Load()).To(Equal(before))
	})
})
