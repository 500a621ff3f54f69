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
// stdout and stderr pipes, and waits for its exit in the background; onExit
// runs after the exit status is known and before waiters see it.
func startProcess(clk clock.Clock, sp *spawner, id string, spec initd.Spawn, pio garden.ProcessIO, onExit func()) (*process, error) {
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
	p := &process{id: id, done: make(chan struct{}), signal: func(sig syscall.Signal) error { return sp.signal(id, sig) }}
	p.attach(pio)
	outDone, errDone := make(chan struct{}), make(chan struct{})
	go p.pump(outR, false, outDone)
	go p.pump(errR, true, errDone)

	exited, err := sp.spawn(id, spec, outW, errW)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
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
