package garden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"code.cloudfoundry.org/lager/v3"
)

// Server serves a Backend over HTTP on a unix socket. It is an ifrit runner.
type Server struct {
	logger     lager.Logger
	socketPath string
	backend    Backend
	handler    http.Handler
}

// NewServer returns a server for backend at socketPath.
func NewServer(logger lager.Logger, socketPath string, backend Backend) *Server {
	s := &Server{logger: logger.Session("server"), socketPath: socketPath, backend: backend}
	s.handler = s.routes()
	return s
}

// Handler is the HTTP handler, for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Run implements ifrit.Runner: ready once the socket listens.
func (s *Server) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	// A socket left by a killed garden would make listen fail.
	if err := os.Remove(s.socketPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing stale socket %s: %w", s.socketPath, err)
	}
	l, err := net.Listen("unix", s.socketPath)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.socketPath, err)
	}
	if err := os.Chmod(s.socketPath, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("chmod %s: %w", s.socketPath, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(l) }()
	s.logger.Info("listening", lager.Data{"socket": s.socketPath})
	close(ready)
	select {
	case err := <-errs:
		return err
	case <-signals:
		// Process streams may run for hours; they survive in the backend, so
		// cut them off quickly rather than waiting.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			return srv.Close()
		}
		return nil
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", s.ping)
	mux.HandleFunc("GET /capacity", s.capacity)
	mux.HandleFunc("POST /containers", s.create)
	mux.HandleFunc("GET /containers", s.list)
	mux.HandleFunc("DELETE /containers/{handle}", s.destroy)
	mux.HandleFunc("GET /containers/{handle}/info", s.info)
	mux.HandleFunc("GET /containers/{handle}/metrics", s.metrics)
	mux.HandleFunc("POST /containers/{handle}/net/in", s.netIn)
	mux.HandleFunc("POST /containers/{handle}/net/out", s.netOut)
	mux.HandleFunc("PUT /containers/{handle}/files", s.streamIn)
	mux.HandleFunc("GET /containers/{handle}/files", s.streamOut)
	mux.HandleFunc("POST /containers/{handle}/stop", s.stop)
	mux.HandleFunc("POST /containers/{handle}/processes", s.run)
	mux.HandleFunc("GET /containers/{handle}/processes/{id}", s.attach)
	mux.HandleFunc("POST /containers/{handle}/processes/{id}/signal", s.signal)
	mux.HandleFunc("POST /containers/{handle}/dial", s.dial)
	return mux
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	if e.Name == ErrInternal.Name {
		s.logger.Error("request-failed", err, lager.Data{"method": r.Method, "path": r.URL.Path})
	}
	s.writeJSON(w, e.HTTPStatus(), e)
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return NewInvalidSpecError("invalid JSON: %v", err)
	}
	return nil
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.Ping(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) capacity(w http.ResponseWriter, r *http.Request) {
	c, err := s.backend.Capacity(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, c)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var spec ContainerSpec
	if err := decode(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	info, err := s.backend.Create(r.Context(), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, info)
}

// list filters by ?property=key=value (repeatable).
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	props := map[string]string{}
	for _, kv := range r.URL.Query()["property"] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			s.writeError(w, r, NewInvalidSpecError("property filter %q is not key=value", kv))
			return
		}
		props[k] = v
	}
	handles, err := s.backend.List(r.Context(), props)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if handles == nil {
		handles = []string{}
	}
	s.writeJSON(w, http.StatusOK, handles)
}

func (s *Server) destroy(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.Destroy(r.Context(), r.PathValue("handle")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	info, err := s.backend.Info(r.Context(), r.PathValue("handle"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, info)
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	m, err := s.backend.Metrics(r.Context(), r.PathValue("handle"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, m)
}

func (s *Server) netIn(w http.ResponseWriter, r *http.Request) {
	var rule NetInRule
	if err := decode(r, &rule); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.backend.NetIn(r.Context(), r.PathValue("handle"), rule)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, m)
}

func (s *Server) netOut(w http.ResponseWriter, r *http.Request) {
	var rule NetOutRule
	if err := decode(r, &rule); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.backend.NetOut(r.Context(), r.PathValue("handle"), rule); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) streamIn(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.StreamIn(r.Context(), r.PathValue("handle"), r.URL.Query().Get("path"), r.Body); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// streamOut buffers nothing: the first write commits the 200, so an error after
// that can only cut the stream short (the client sees a truncated tar).
func (s *Server) streamOut(w http.ResponseWriter, r *http.Request) {
	h := r.PathValue("handle")
	if _, err := s.backend.Info(r.Context(), h); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	cw := &committingWriter{w: w}
	if err := s.backend.StreamOut(r.Context(), h, r.URL.Query().Get("path"), cw); err != nil {
		if !cw.committed {
			s.writeError(w, r, err)
			return
		}
		s.logger.Error("stream-out-failed", err, lager.Data{"handle": h})
		panic(http.ErrAbortHandler) // abort so the client cannot mistake it for a whole tar
	}
}

type committingWriter struct {
	w         io.Writer
	committed bool
}

func (c *committingWriter) Write(p []byte) (int, error) {
	c.committed = true
	return c.w.Write(p)
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GraceMS int64 `json:"grace_ms"`
	}
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.backend.Stop(r.Context(), r.PathValue("handle"), time.Duration(req.GraceMS)*time.Millisecond); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) signal(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Signal int `json:"signal"`
	}
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.backend.Attach(r.Context(), r.PathValue("handle"), r.PathValue("id"), ProcessIO{})
	if err == nil {
		err = p.Signal(syscall.Signal(req.Signal))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) {
	var spec ProcessSpec
	if err := decode(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	if Upgrading(r, upgradeProcess) {
		s.runInteractive(w, r, spec)
		return
	}
	s.stream(w, r, func(pio ProcessIO) (Process, error) {
		return s.backend.Run(r.Context(), r.PathValue("handle"), spec, pio)
	})
}

// runInteractive runs a process with input (or a TTY) on the taken-over
// connection; the process outlives the connection, its input ends with it.
func (s *Server) runInteractive(w http.ResponseWriter, r *http.Request, spec ProcessSpec) {
	handle := r.PathValue("handle")
	if _, err := s.backend.Info(r.Context(), handle); err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, br, err := hijack(w, upgradeProcess)
	if err != nil {
		s.logger.Error("interactive-hijack-failed", err, lager.Data{"handle": handle})
		return
	}
	defer conn.Close()
	ctx := context.WithoutCancel(r.Context())
	err = ProcessConn(conn, br, func(pio ProcessIO) (Process, error) {
		return s.backend.Run(ctx, handle, spec, pio)
	})
	if err != nil {
		s.logger.Info("interactive-process-ended", lager.Data{"handle": handle, "error": err.Error()})
	}
}

// dial connects to ?address from inside the container and relays the
// taken-over connection to it.
func (s *Server) dial(w http.ResponseWriter, r *http.Request) {
	handle := r.PathValue("handle")
	if !Upgrading(r, upgradeDial) {
		s.writeError(w, r, NewInvalidSpecError("dial needs Upgrade: %s", upgradeDial))
		return
	}
	target, err := s.backend.Dial(r.Context(), handle, r.URL.Query().Get("address"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, br, err := hijack(w, upgradeDial)
	if err != nil {
		target.Close()
		s.logger.Error("dial-hijack-failed", err, lager.Data{"handle": handle})
		return
	}
	Splice(&BufferedConn{Conn: conn, R: br}, target)
}

func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	s.stream(w, r, func(pio ProcessIO) (Process, error) {
		return s.backend.Attach(r.Context(), r.PathValue("handle"), r.PathValue("id"), pio)
	})
}

// stream answers with frames: the id, output as it comes, then the exit status.
// If the client goes away the process carries on.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, start func(ProcessIO) (Process, error)) {
	flusher, _ := w.(http.Flusher)
	fs := &frameStream{w: w, flush: func() {
		if flusher != nil {
			flusher.Flush()
		}
	}}
	defer fs.close()
	// Hold output until the id frame is out, so it is always first.
	fs.mu.Lock()
	p, err := start(ProcessIO{
		Stdout: &frameWriter{stream: fs, kind: frameStdout},
		Stderr: &frameWriter{stream: fs, kind: frameStderr},
	})
	if err != nil {
		fs.closed = true
		fs.mu.Unlock()
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-garden-frames")
	w.WriteHeader(http.StatusOK)
	err = writeFrame(w, frameID, []byte(p.ID()))
	fs.flush()
	if err != nil {
		fs.closed = true
	}
	fs.mu.Unlock()

	done := make(chan struct{})
	var status int
	var waitErr error
	go func() {
		status, waitErr = p.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-r.Context().Done():
		return
	}
	if waitErr != nil {
		b, _ := json.Marshal(AsError(waitErr))
		_ = fs.write(frameError, b)
		return
	}
	_ = fs.write(frameExit, []byte(strconv.Itoa(status)))
}
