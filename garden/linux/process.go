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
)

// process is one process started with `runc exec --detach`: garden's child
// (as subreaper), waited for through a pidfd. Its output fans out to whoever is
// attached; it keeps running when they leave.
type process struct {
	id   string
	proc *os.Process

	mu   sync.Mutex // guards subs
	subs []*subscriber

	done   chan struct{}
	status int
	err    error
}

type subscriber struct {
	pio  garden.ProcessIO
	dead bool
}

var _ garden.Process = (*process)(nil)

func (p *process) ID() string { return p.id }

func (p *process) Wait() (int, error) {
	<-p.done
	return p.status, p.err
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal delivers sig to the process. os.Process signals through a pidfd, and
// the process is garden's child until reaped, so the pid cannot have been
// reused.
func (p *process) Signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	if err := p.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling process %s: %w", p.id, err)
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

// execRequest is one process for startProcess to run.
type execRequest struct {
	handle, id                    string
	processFile, pidFile, logFile string
	pio                           garden.ProcessIO
	onExit                        func()
}

// startProcess runs runc exec --detach with the process's own stdout and
// stderr pipes and reaps the process in the background; onExit runs after the
// exit status is known and before waiters see it.
func startProcess(clk clock.Clock, r runc, req execRequest) (*process, error) {
	id, pio, onExit := req.id, req.pio, req.onExit
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	p := &process{id: id, done: make(chan struct{})}
	p.attach(pio)
	outDone, errDone := make(chan struct{}), make(chan struct{})
	go p.pump(outR, false, outDone)
	go p.pump(errR, true, errDone)

	pid, err := r.execDetached(req.handle, req.processFile, req.pidFile, req.logFile, outW, errW)
	outW.Close()
	errW.Close()
	if err == nil {
		p.proc, err = os.FindProcess(pid)
	}
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}

	go func() {
		state, werr := p.proc.Wait()
		status := -1
		if werr != nil {
			p.err = fmt.Errorf("waiting for process %s: %w", id, werr)
		} else if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			status = 128 + int(ws.Signal())
		} else {
			status = state.ExitCode()
		}
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
