package linux

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/clock"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/initd"
	"golang.org/x/sys/unix"
)

// process is one process the container's initd started for garden. Its
// output fans out to whoever is attached; it keeps running when they leave.
type process struct {
	id     string
	signal func(syscall.Signal) error // through initd

	mu   sync.Mutex // guards subs
	subs []*subscriber

	done   chan struct{}
	status int

	master *os.File // the terminal's master, when the process has one
}

type subscriber struct {
	pio  garden.ProcessIO
	dead bool
}

var _ garden.Process = (*process)(nil)

func (p *process) ID() string { return p.id }

func (p *process) Wait() (int, error) {
	<-p.done
	return p.status, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal delivers sig to the process. initd signals only a child it has not
// reaped yet, so the pid cannot have been reused.
func (p *process) Signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	if err := p.signal(sig); err != nil && !errors.Is(err, errInitGone) {
		return fmt.Errorf("signalling process %s: %w", p.id, err)
	}
	return nil
}

// Resize sets the size of the process's terminal (TIOCSWINSZ on its master;
// the kernel sends the foreground process group SIGWINCH).
func (p *process) Resize(size garden.WindowSize) error {
	if p.master == nil {
		return garden.NewInvalidSpecError("process %s has no terminal", p.id)
	}
	if p.exited() {
		return nil
	}
	size = size.OrDefault()
	// Through the poller's descriptor: Fd() would make the master blocking.
	raw, err := p.master.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols})
		})
		err = errors.Join(cerr, err)
	}
	if err != nil {
		return fmt.Errorf("resizing the terminal of process %s: %w", p.id, err)
	}
	return nil
}

// attach adds a subscriber; it is removed when one of its writers fails.
func (p *process) attach(pio garden.ProcessIO) {
	p.mu.Lock()
	p.subs = append(p.subs, &subscriber{pio: pio})
	p.mu.Unlock()
}

func (p *process) fanOut(stderr bool, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := p.subs[:0]
	for _, s := range p.subs {
		w := s.pio.Stdout
		if stderr {
			w = s.pio.Stderr
		}
		if w != nil && !s.dead {
			if _, err := w.Write(b); err != nil {
				s.dead = true
			}
		}
		if !s.dead {
			live = append(live, s)
		}
	}
	p.subs = live
}

func (p *process) pump(r io.Reader, stderr bool, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p.fanOut(stderr, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// drainTimeout bounds how long output is collected after the process exits:
// a background child that inherited stdout would otherwise hold it open.
const drainTimeout = time.Second

// startProcess has the container's initd start the process with its own
// stdout and stderr pipes (and stdin pipe when pio has Stdin), or on a
// terminal, and waits for its exit in the background; onExit runs after the
// exit status is known and before waiters see it.
func startProcess(clk clock.Clock, sp *spawner, id string, spec initd.Spawn, pio garden.ProcessIO, onExit func()) (*process, error) {
	if spec.TTY != nil {
		return startOnTerminal(clk, sp, id, spec, pio, onExit)
	}
	var inR, inW *os.File
	if pio.Stdin != nil {
		var err error
		if inR, inW, err = os.Pipe(); err != nil {
			return nil, err
		}
	}
	closeIn := func() {
		if inR != nil {
			inR.Close()
			inW.Close()
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeIn()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeIn()
		outR.Close()
		outW.Close()
		return nil, err
	}
	p := &process{id: id, done: make(chan struct{}), signal: func(sig syscall.Signal) error { return sp.signal(id, sig) }}
	p.attach(pio)
	outDone, errDone := make(chan struct{}), make(chan struct{})
	go p.pump(outR, false, outDone)
	go p.pump(errR, true, errDone)

	exited, _, err := sp.spawn(id, spec, inR, outW, errW)
	outW.Close()
	errW.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return nil, err
	}
	if inW != nil {
		// The process sees EOF once the caller's input ends; a process that
		// exits first makes the write fail, which ends the copy.
		go func() {
			_, _ = io.Copy(inW, pio.Stdin)
			inW.Close()
		}()
	}

	go func() {
		status := <-exited
		timer := clk.NewTimer(drainTimeout)
		for _, d := range []chan struct{}{outDone, errDone} {
			select {
			case <-d:
				continue
			case <-timer.C():
			}
			break
		}
		timer.Stop()
		outR.Close()
		errR.Close()
		p.status = status
		if onExit != nil {
			onExit()
		}
		close(p.done)
	}()
	return p, nil
}

// startOnTerminal has initd start the process on a new terminal of the
// container and relays between its master and pio: the terminal's output is
// stdout; pio.Stdin is typed into it.
func startOnTerminal(clk clock.Clock, sp *spawner, id string, spec initd.Spawn, pio garden.ProcessIO, onExit func()) (*process, error) {
	p := &process{id: id, done: make(chan struct{}), signal: func(sig syscall.Signal) error { return sp.signal(id, sig) }}
	p.attach(garden.ProcessIO{Stdout: pio.Stdout})
	exited, master, err := sp.spawn(id, spec, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	p.master = master
	outDone := make(chan struct{})
	// Reading the master ends with EIO once every holder of the terminal
	// (the process and whatever it left behind) has closed it.
	go p.pump(master, false, outDone)
	if pio.Stdin != nil {
		go func() { _, _ = io.Copy(master, pio.Stdin) }()
	}
	go func() {
		status := <-exited
		timer := clk.NewTimer(drainTimeout)
		select {
		case <-outDone:
		case <-timer.C():
		}
		timer.Stop()
		master.Close() // also ends the stdin copy at its next write
		p.status = status
		if onExit != nil {
			onExit()
		}
		close(p.done)
	}()
	return p, nil
}
