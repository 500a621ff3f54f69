package sshd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"

	"code.cloudfoundry.org/lager/v3"
	"golang.org/x/crypto/ssh"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/rep/shellapi"
)

// maxEnv bounds the "env" requests one session may make.
const maxEnv = 64

// Payloads of the SSH requests a session takes (RFC 4254, section 6).
type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

type envRequest struct{ Name, Value string }

type execRequest struct{ Command string }

type signalRequest struct{ Signal string }

type exitStatus struct{ Status uint32 }

// signals maps SSH signal names to the process's.
var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "QUIT": syscall.SIGQUIT,
	"TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
}

func size(cols, rows uint32) garden.WindowSize {
	clamp := func(v uint32) uint16 { return uint16(min(v, 65535)) }
	return garden.WindowSize{Rows: clamp(rows), Cols: clamp(cols)}
}

// session serves one "session" channel: pty-req, env, window-change and
// signal, then one shell or exec, whose exit status it sends back.
func (s *Server) session(logger lager.Logger, guid string, index int, newCh ssh.NewChannel) {
	ch, reqs, err := newCh.Accept()
	if err != nil {
		logger.Error("accept-session-failed", err)
		return
	}
	defer ch.Close()
	logger = logger.Session("session")
	var (
		mu   sync.Mutex // guards proc
		proc garden.Process
		tty  *garden.WindowSize
		env  []string
	)
	for req := range reqs {
		ok := true
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if ok = ssh.Unmarshal(req.Payload, &p) == nil; ok {
				sz := size(p.Cols, p.Rows)
				tty = &sz
				env = append(env, "TERM="+p.Term)
			}
		case "env":
			var e envRequest
			if ok = ssh.Unmarshal(req.Payload, &e) == nil && len(env) < maxEnv && e.Name != ""; ok {
				env = append(env, e.Name+"="+e.Value)
			}
		case "window-change":
			var wc windowChange
			if ok = ssh.Unmarshal(req.Payload, &wc) == nil; ok {
				mu.Lock()
				if proc != nil {
					_ = proc.Resize(size(wc.Cols, wc.Rows))
				} else if tty != nil {
					*tty = size(wc.Cols, wc.Rows)
				}
				mu.Unlock()
			}
		case "signal":
			var sig signalRequest
			mu.Lock()
			if ok = ssh.Unmarshal(req.Payload, &sig) == nil && proc != nil && signals[sig.Signal] != 0; ok {
				_ = proc.Signal(signals[sig.Signal])
			}
			mu.Unlock()
		case "shell", "exec":
			var command string
			if req.Type == "exec" {
				var e execRequest
				ok = ssh.Unmarshal(req.Payload, &e) == nil
				command = e.Command
			}
			mu.Lock()
			ok = ok && proc == nil
			mu.Unlock()
			if !ok {
				break
			}
			_ = req.Reply(true, nil)
			p, err := s.start(logger, guid, index, shellapi.ProcessRequest{Command: command, TTY: tty, Env: env}, ch)
			if err != nil {
				logger.Info("start-refused", lager.Data{"error": err.Error()})
				fmt.Fprintf(ch.Stderr(), "diego ssh: %v\r\n", err)
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{255}))
				return
			}
			mu.Lock()
			proc = p
			mu.Unlock()
			go func() {
				status, err := p.Wait()
				if err != nil {
					logger.Info("process-lost", lager.Data{"error": err.Error()})
					fmt.Fprintf(ch.Stderr(), "diego ssh: %v\r\n", err)
					status = 255
				}
				_ = ch.CloseWrite()
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{uint32(status)}))
				ch.Close()
			}()
			continue
		default:
			ok = false
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
}

func (s *Server) start(logger lager.Logger, guid string, index int, pr shellapi.ProcessRequest, ch ssh.Channel) (garden.Process, error) {
	ctx := context.Background()
	t, err := s.resolve(ctx, logger, guid, index)
	if err != nil {
		return nil, err
	}
	return t.rep.Run(ctx, t.instanceGuid, pr, garden.ProcessIO{Stdin: ch, Stdout: ch, Stderr: ch.Stderr()})
}

// forwardRequest is a direct-tcpip channel's payload (RFC 4254, 7.2).
type forwardRequest struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

// directTCPIP relays a port forward (ssh -L) to a connection the instance's
// cell opens from inside the container.
func (s *Server) directTCPIP(logger lager.Logger, guid string, index int, newCh ssh.NewChannel) {
	var fr forwardRequest
	if err := ssh.Unmarshal(newCh.ExtraData(), &fr); err != nil {
		_ = newCh.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	address := net.JoinHostPort(fr.Host, strconv.Itoa(int(fr.Port)))
	logger = logger.Session("forward", lager.Data{"address": address})
	ctx := context.Background()
	t, err := s.resolve(ctx, logger, guid, index)
	if err != nil {
		_ = newCh.Reject(ssh.Prohibited, err.Error())
		return
	}
	conn, err := t.rep.Dial(ctx, t.instanceGuid, address)
	if err != nil {
		logger.Info("dial-failed", lager.Data{"error": err.Error()})
		_ = newCh.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := newCh.Accept()
	if err != nil {
		conn.Close()
		logger.Error("accept-failed", err)
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, ch); done <- struct{}{} }()
	go func() { _, _ = io.Copy(ch, conn); done <- struct{}{} }()
	// Either end finishing ends both: the relay through the rep carries no
	// half-close.
	<-done
	conn.Close()
	ch.Close()
}
