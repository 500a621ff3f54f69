package initd

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// stdio is what a spawned process gets as fds 0, 1 and 2: garden's
// descriptors, /dev/null as stdin when garden sent none, or the slave of a
// new pseudo-terminal whose master goes back to garden.
type stdio struct {
	in, out, err int
	sys          *syscall.SysProcAttr
	master       *os.File // with a TTY: garden's end
	childEnds    []int    // closed once the helper has them
	slave        *os.File // with a TTY: closed once the helper has it
}

func newStdio(spec *Spawn, fds []int) (*stdio, error) {
	if spec.TTY != nil {
		if len(fds) != 0 {
			return nil, errors.New("a process on a terminal takes no descriptors")
		}
		// The container's own devpts (/dev/ptmx -> pts/ptmx), so the process
		// finds its terminal under /dev/pts as any program expects.
		master, slave, err := pty.Open()
		if err != nil {
			return nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
		}
		if err := pty.Setsize(master, &pty.Winsize{Rows: spec.TTY.Rows, Cols: spec.TTY.Cols}); err != nil {
			master.Close()
			slave.Close()
			return nil, fmt.Errorf("sizing the terminal: %w", err)
		}
		fd := int(slave.Fd())
		return &stdio{
			in: fd, out: fd, err: fd, master: master,
			// A session of its own with the terminal as its controlling one
			// (Ctty is the child's fd 0), so job control and ^C work.
			sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
			slave: slave,
		}, nil
	}
	switch len(fds) {
	case 2:
		devNull, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("opening /dev/null: %w", err)
		}
		return &stdio{in: devNull, out: fds[0], err: fds[1], childEnds: []int{devNull}}, nil
	case 3:
		return &stdio{in: fds[0], out: fds[1], err: fds[2]}, nil
	}
	return nil, fmt.Errorf("a process needs two or three descriptors, got %d", len(fds))
}

// closeChildEnds closes what only the helper needed (fds garden sent are
// closed by the caller).
func (s *stdio) closeChildEnds() {
	for _, fd := range s.childEnds {
		unix.Close(fd)
	}
	s.childEnds = nil
	if s.slave != nil {
		s.slave.Close()
		s.slave = nil
	}
}

// masterRights is the SCM_RIGHTS message carrying the terminal's master, or nil.
func (s *stdio) masterRights() []byte {
	if s.master == nil {
		return nil
	}
	return unix.UnixRights(int(s.master.Fd()))
}

func (s *stdio) close() {
	s.closeChildEnds()
	if s.master != nil {
		s.master.Close()
	}
}
