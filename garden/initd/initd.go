package initd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs initd; it returns only when started as the exec helper fails.
// The same binary is both: pid 1 (no arguments) and, for each spawn, the
// short-lived helper that sets the process's limits and identity and then
// execs it (argument ExecArg).
func Main() {
	if len(os.Args) > 1 && os.Args[1] == ExecArg {
		os.Exit(execMain())
	}
	// pid 1 of every container: keep it small.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(25)
	if err := serve(SocketFD); err != nil {
		fmt.Fprintf(os.Stderr, "garden-init: %v\n", err)
		os.Exit(1)
	}
}

type server struct {
	sock syscall.RawConn // non-blocking, through Go's poller: no thread waits in recvmsg

	mu       sync.Mutex     // guards pids and ids
	pids     map[int]string // live child pid -> process id
	ids      map[string]int
	sendMu   sync.Mutex
	gardenOK bool // false once garden's end is gone
}

func serve(sock int) error {
	// Handled, not ignored: a process that initd starts must not inherit an
	// ignored SIGTERM, and handled signals reset to default across exec.
	sigs := make(chan os.Signal, 128)
	signal.Notify(sigs)
	unix.CloseOnExec(sock)
	// Absent when garden did not pass it: spawns then fail with the reason.
	unix.CloseOnExec(WorkCgroupFD)
	if err := unix.SetNonblock(sock, true); err != nil {
		return fmt.Errorf("garden's socket (fd %d): %w", sock, err)
	}
	raw, err := os.NewFile(uintptr(sock), "garden").SyscallConn()
	if err != nil {
		return fmt.Errorf("garden's socket (fd %d): %w", sock, err)
	}
	s := &server{sock: raw, pids: map[int]string{}, ids: map[string]int{}, gardenOK: true}
	go s.readLoop()
	for sig := range sigs {
		if sig == unix.SIGCHLD {
			s.reap()
		}
	}
	return nil
}

// reap collects every exited child: garden's processes are reported, orphans
// re-parented to pid 1 are just released.
func (s *server) reap() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		id, ok := s.pids[pid]
		if !ok {
			continue
		}
		delete(s.pids, pid)
		delete(s.ids, id)
		status := ws.ExitStatus()
		if ws.Signaled() {
			status = 128 + int(ws.Signal())
		}
		s.send(Event{ID: id, Exited: true, Status: status})
	}
}

func (s *server) readLoop() {
	buf := make([]byte, MaxMessage)
	oob := make([]byte, unix.CmsgSpace(3*4))
	for {
		var n, oobn int
		var err error
		rerr := s.sock.Read(func(fd uintptr) bool {
			n, oobn, _, _, err = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			return err != unix.EAGAIN
		})
		if err == unix.EINTR {
			continue
		}
		if err != nil || rerr != nil || n == 0 {
			// Garden is gone: its processes run on, and initd keeps reaping.
			s.sendMu.Lock()
			s.gardenOK = false
			s.sendMu.Unlock()
			return
		}
		fds := receivedFDs(oob[:oobn])
		var req Request
		if err := json.Unmarshal(buf[:n], &req); err != nil {
			closeAll(fds)
			continue
		}
		switch req.Op {
		case OpSpawn:
			s.spawn(req, fds)
		case OpSignal:
			closeAll(fds)
			s.mu.Lock()
			if pid, ok := s.ids[req.ID]; ok {
				_ = unix.Kill(pid, syscall.Signal(req.Signal))
			}
			s.mu.Unlock()
		default:
			closeAll(fds)
		}
	}
}

func receivedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func (s *server) send(ev Event) { s.sendWith(ev, nil) }

// sendWith sends ev with oob (SCM_RIGHTS) beside it.
func (s *server) sendWith(ev Event, oob []byte) {
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if !s.gardenOK {
		return
	}
	_ = s.sock.Write(func(fd uintptr) bool {
		err := unix.Sendmsg(int(fd), data, oob, nil, 0)
		return err != unix.EAGAIN && err != unix.EINTR
	})
}

// spawn starts the exec helper with the process's stdio and its spec on a
// pipe; the helper sets limits and identity and execs the process, so its pid
// is the process's. A close-on-exec pipe tells whether the exec happened.
// pipeBuffer is what a pipe holds without a reader (Linux's default).
const pipeBuffer = 64 << 10

func (s *server) spawn(req Request, fds []int) {
	defer closeAll(fds)
	fail := func(err error) { s.send(Event{ID: req.ID, Error: err.Error()}) }
	if req.Spawn == nil {
		fail(fmt.Errorf("spawn %s: no process", req.ID))
		return
	}
	st, err := newStdio(req.Spawn, fds)
	if err != nil {
		fail(fmt.Errorf("spawn %s: %w", req.ID, err))
		return
	}
	defer st.close()
	spec, err := json.Marshal(req.Spawn)
	if err != nil {
		fail(err)
		return
	}
	// os.Pipe: garden-init's ends wait in Go's poller, not in a thread
	// (threads count against the container's pid limit).
	specR, specW, err := os.Pipe()
	if err != nil {
		fail(err)
		return
	}
	defer specW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		specR.Close()
		fail(err)
		return
	}
	defer errR.Close()

	// Handed over before the fork when the pipe can hold it, so the helper
	// never waits for it (a wait costs the helper a thread).
	early := len(spec) <= pipeBuffer
	if early {
		if _, err := specW.Write(spec); err != nil {
			specR.Close()
			errW.Close()
			fail(fmt.Errorf("handing %s its spec: %w", req.Spawn.Path, err))
			return
		}
		specW.Close()
	}

	// Held until the start is reported, so that reap neither reports the
	// helper's own failure nor a quick exit before the start.
	s.mu.Lock()
	defer s.mu.Unlock()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"garden-init", ExecArg}, &syscall.ProcAttr{
		Env:   []string{"GOMAXPROCS=1"},
		Files: []uintptr{uintptr(st.in), uintptr(st.out), uintptr(st.err), specR.Fd(), errW.Fd(), WorkCgroupFD},
		Sys:   st.sys,
	})
	st.closeChildEnds()
	specR.Close()
	errW.Close()
	if err != nil {
		fail(fmt.Errorf("starting %s: %w", req.Spawn.Path, err))
		return
	}
	var werr error
	if !early {
		_, werr = specW.Write(spec)
		specW.Close()
	}
	reasonBytes, _ := io.ReadAll(errR)
	reason := string(reasonBytes)
	if reason == "" && werr != nil {
		reason = fmt.Sprintf("handing %s its spec: %v", req.Spawn.Path, werr)
	}
	if reason != "" {
		// The helper exits without exec; reap releases it unreported.
		fail(fmt.Errorf("%s", reason))
		return
	}
	s.pids[pid], s.ids[req.ID] = req.ID, pid
	s.sendWith(Event{ID: req.ID, Pid: pid}, st.masterRights())
}
