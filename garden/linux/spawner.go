package linux

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/diego-runtime/diego/garden/initd"
	"golang.org/x/sys/unix"
)

// spawner is garden's end of the socket pair to a container's initd: it
// starts processes there and hands each one its exit status.
type spawner struct {
	conn *net.UnixConn

	sendMu sync.Mutex
	mu     sync.Mutex // guards below
	starts map[string]chan started
	exits  map[string]chan int
	gone   bool // initd's end closed: the container's init has exited
}

// started is initd's answer to a spawn: err, or the process runs (with its
// terminal's master when it asked for a TTY).
type started struct {
	err    error
	master *os.File
}

// errInitGone is a spawn or signal after the container's init exited.
var errInitGone = errors.New("the container's init has exited")

// newSocketPair returns garden's end (as a spawner) and initd's end, which
// runc hands the init as fd 3.
func newSocketPair() (*spawner, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the init socket pair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "init-socket")
	defer mine.Close() // FileConn dups it
	conn, err := net.FileConn(mine)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("init socket: %w", err)
	}
	s := &spawner{conn: conn.(*net.UnixConn), starts: map[string]chan started{}, exits: map[string]chan int{}}
	go s.readLoop()
	return s, os.NewFile(uintptr(fds[1]), "init-socket-child"), nil
}

func (s *spawner) readLoop() {
	buf := make([]byte, 64*1024)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			s.closeAll()
			return
		}
		master := receivedFile(oob[:oobn])
		var ev initd.Event
		if json.Unmarshal(buf[:n], &ev) != nil {
			if master != nil {
				master.Close()
			}
			continue
		}
		s.mu.Lock()
		if ev.Exited {
			if ch, ok := s.exits[ev.ID]; ok {
				delete(s.exits, ev.ID)
				ch <- ev.Status
			}
		} else if ch, ok := s.starts[ev.ID]; ok {
			delete(s.starts, ev.ID)
			if ev.Error != "" {
				ch <- started{err: &spawnError{reason: ev.Error}}
			} else {
				ch <- started{master: master}
				master = nil
			}
		}
		s.mu.Unlock()
		if master != nil {
			master.Close()
		}
	}
}

// closeAll ends every wait: init has exited, and being pid 1 of the
// container, it took every process with it (SIGKILL).
func (s *spawner) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = true
	for _, ch := range s.starts {
		ch <- started{err: errInitGone}
	}
	for _, ch := range s.exits {
		ch <- 128 + int(syscall.SIGKILL)
	}
	s.starts, s.exits = map[string]chan started{}, map[string]chan int{}
}

// spawn starts a process with the given stdio (which it does not close; stdin
// may be nil: /dev/null; all nil with spec.TTY) and returns once it runs;
// exited then yields its status, and master is the terminal's master when
// spec.TTY is set. An error from initd (no such executable, ...) is a
// *spawnError.
func (s *spawner) spawn(id string, spec initd.Spawn, stdin, stdout, stderr *os.File) (exited <-chan int, master *os.File, err error) {
	starts := make(chan started, 1)
	exits := make(chan int, 1)
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return nil, nil, errInitGone
	}
	s.starts[id], s.exits[id] = starts, exits
	s.mu.Unlock()

	data, err := json.Marshal(initd.Request{Op: initd.OpSpawn, ID: id, Spawn: &spec})
	if err == nil && len(data) > initd.MaxMessage {
		err = fmt.Errorf("the process spec is %d bytes, over %d", len(data), initd.MaxMessage)
	}
	if err == nil {
		var rights []byte
		switch {
		case spec.TTY != nil:
		case stdin != nil:
			rights = unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()))
		default:
			rights = unix.UnixRights(int(stdout.Fd()), int(stderr.Fd()))
		}
		err = s.send(data, rights)
	}
	if err != nil {
		s.forget(id)
		return nil, nil, err
	}
	st := <-starts
	if st.err != nil {
		s.forget(id)
		return nil, nil, st.err
	}
	if spec.TTY != nil && st.master == nil {
		// initd always sends it; without it nobody could reach the process.
		_ = s.signal(id, syscall.SIGKILL)
		return nil, nil, errors.New("the container's init started a terminal process without handing over its terminal")
	}
	return exits, st.master, nil
}

// receivedFile is the one descriptor an SCM_RIGHTS message carried, or nil.
func receivedFile(oob []byte) *os.File {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var f *os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if f == nil {
				unix.CloseOnExec(fd)
				// Non-blocking, so reads wait in the poller and Close ends them.
				_ = unix.SetNonblock(fd, true)
				f = os.NewFile(uintptr(fd), "pty-master")
			} else {
				unix.Close(fd)
			}
		}
	}
	return f
}

func (s *spawner) forget(id string) {
	s.mu.Lock()
	delete(s.starts, id)
	delete(s.exits, id)
	s.mu.Unlock()
}

func (s *spawner) signal(id string, sig syscall.Signal) error {
	data, err := json.Marshal(initd.Request{Op: initd.OpSignal, ID: id, Signal: int(sig)})
	if err != nil {
		return err
	}
	return s.send(data, nil)
}

func (s *spawner) send(data, oob []byte) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if _, _, err := s.conn.WriteMsgUnix(data, oob, nil); err != nil {
		return fmt.Errorf("writing to the container's init: %w", err)
	}
	return nil
}

func (s *spawner) close() { s.conn.Close() }

// spawnError is initd failing to start a process (no such executable, ...).
type spawnError struct{ reason string }

func (e *spawnError) Error() string { return e.reason }
