package garden

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
)

// An interactive process (one with Stdin or a TTY) and a dial into a
// container both run on a connection taken over from HTTP/1.1 with
// "Upgrade": after "101 Switching Protocols" an interactive process carries
// frames both ways (garden sends the id, output and the exit status, the
// client sends input, its end, window sizes and signals), a dial carries the
// TCP stream's bytes as they are.
const (
	upgradeProcess = "garden-process"
	upgradeDial    = "garden-dial"

	frameStdin    byte = 'I' // payload: input bytes
	frameStdinEnd byte = 'E' // no payload: input ended
	frameResize   byte = 'w' // payload: a JSON WindowSize
	frameSignal   byte = 's' // payload: the decimal signal number
)

// ProcessConn serves one interactive process on conn (already switched to
// the process protocol): start gets the ProcessIO to start it with. It
// returns when the process has exited and its status is sent, or the peer is
// gone. The rep uses it to serve the receptor the way garden serves the rep.
func ProcessConn(conn io.Writer, r io.Reader, start func(ProcessIO) (Process, error)) error {
	fs := &frameStream{w: conn, flush: func() {}}
	defer fs.close()
	inR, inW := io.Pipe()
	defer inW.Close()
	// Output waits until the id frame is out, so it is always first.
	fs.mu.Lock()
	p, err := start(ProcessIO{
		Stdin:  inR,
		Stdout: &frameWriter{stream: fs, kind: frameStdout},
		Stderr: &frameWriter{stream: fs, kind: frameStderr},
	})
	if err != nil {
		b, _ := json.Marshal(AsError(err))
		werr := writeFrame(conn, frameError, b)
		fs.closed = true
		fs.mu.Unlock()
		return errors.Join(err, werr)
	}
	err = writeFrame(conn, frameID, []byte(p.ID()))
	fs.mu.Unlock()
	if err != nil {
		return fmt.Errorf("garden: sending process id: %w", err)
	}
	go readControl(r, p, inW)
	status, err := p.Wait()
	if err != nil {
		b, _ := json.Marshal(AsError(err))
		return errors.Join(err, fs.write(frameError, b))
	}
	return fs.write(frameExit, []byte(strconv.Itoa(status)))
}

// readControl applies the client's frames until its end of the connection
// closes (which ends the process's input).
func readControl(r io.Reader, p Process, in *io.PipeWriter) {
	for {
		kind, payload, err := readFrame(r)
		if err != nil {
			in.CloseWithError(io.EOF)
			return
		}
		switch kind {
		case frameStdin:
			if _, err := in.Write(payload); err != nil {
				continue // the process is no longer reading; keep serving control frames
			}
		case frameStdinEnd:
			in.Close()
		case frameResize:
			var size WindowSize
			if json.Unmarshal(payload, &size) == nil {
				_ = p.Resize(size)
			}
		case frameSignal:
			if n, err := strconv.Atoi(string(payload)); err == nil && n > 0 && n < 65 {
				_ = p.Signal(syscall.Signal(n))
			}
		}
	}
}

// FollowProcessConn is the client's side of ProcessConn on conn (already
// switched): it sends pio.Stdin and delivers output to pio. The returned
// process's Resize and Signal travel on conn.
func FollowProcessConn(conn io.WriteCloser, r io.Reader, pio ProcessIO) (Process, error) {
	kind, payload, err := readFrame(r)
	if err == nil && kind == frameError {
		var e Error
		if jerr := json.Unmarshal(payload, &e); jerr != nil {
			return nil, fmt.Errorf("garden: decoding process error: %w", jerr)
		}
		return nil, &e
	}
	if err != nil || kind != frameID {
		return nil, fmt.Errorf("garden: reading process id: %w", errors.Join(err, errors.New("no id frame")))
	}
	ctl := &frameStream{w: conn, flush: func() {}}
	p := &clientProcess{id: string(payload), done: make(chan struct{}), ctl: ctl}
	if pio.Stdin != nil {
		go func() {
			_, err := io.Copy(&frameWriter{stream: ctl, kind: frameStdin}, pio.Stdin)
			if err == nil {
				_ = ctl.write(frameStdinEnd, nil)
			}
		}()
	}
	go func() {
		p.pump(io.NopCloser(r), pio)
		conn.Close()
		ctl.close()
	}()
	return p, nil
}

// hijack takes over an HTTP/1.1 connection and answers 101 for proto.
func hijack(w http.ResponseWriter, proto string) (net.Conn, *bufio.Reader, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("garden: the connection cannot be taken over")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("garden: taking over the connection: %w", err)
	}
	_, err = fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", proto)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("garden: switching protocols: %w", err)
	}
	return conn, brw.Reader, nil
}

// Upgrading reports whether r asks to switch to proto.
func Upgrading(r *http.Request, proto string) bool { return r.Header.Get("Upgrade") == proto }

// Hijack takes over r's connection for proto (101 Switching Protocols); the
// reader holds what the client sent after its request.
func Hijack(w http.ResponseWriter, proto string) (net.Conn, *bufio.Reader, error) {
	return hijack(w, proto)
}

// Upgrade sends req on conn asking to switch to proto and reads the answer:
// nil once switched (the reader then holds what follows), else the error the
// server answered with (a garden Error when it sent one).
func Upgrade(conn net.Conn, req *http.Request, proto string) (*bufio.Reader, error) {
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", proto)
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("sending %s %s: %w", req.Method, req.URL.Path, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return br, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e Error
	if json.Unmarshal(body, &e) == nil && e.Name != "" {
		return nil, &e
	}
	return nil, fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, body)
}

// Upgrade protocol names, for servers that relay garden's (the rep).
const (
	UpgradeProcess = upgradeProcess
	UpgradeDial    = upgradeDial
)

// BufferedConn is a connection whose first bytes were read ahead into R.
type BufferedConn struct {
	net.Conn
	R *bufio.Reader
}

func (c *BufferedConn) Read(p []byte) (int, error) { return c.R.Read(p) }

// Splice copies both ways between a and b until either side ends, then
// closes both.
func Splice(a, b net.Conn) {
	var once sync.Once
	done := make(chan struct{})
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		once.Do(func() { close(done) })
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
}

// dialUpgraded opens a fresh connection to garden's socket and switches it to proto.
func (c *Client) dialUpgraded(ctx context.Context, method, path string, body []byte, proto string) (net.Conn, *bufio.Reader, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, nil, fmt.Errorf("garden: dialing %s: %w", c.socket, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, bytesReader(body))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	br, err := Upgrade(conn, req, proto)
	if err != nil {
		conn.Close()
		var gerr *Error
		if errors.As(err, &gerr) {
			return nil, nil, gerr
		}
		return nil, nil, fmt.Errorf("garden: %w", err)
	}
	return conn, br, nil
}
