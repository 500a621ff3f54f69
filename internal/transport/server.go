package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Server runs an HTTP handler on a listener as an ifrit runner: ready once it
// listens, and on a signal it stops accepting and lets in-flight requests finish
// (for at most ShutdownTimeout).
type Server struct {
	Listener        net.Listener
	Handler         http.Handler
	ShutdownTimeout time.Duration
}

// NewServer listens on address (with TLS when configured) and returns the runner.
func NewServer(t TLS, address string, handler http.Handler) (*Server, error) {
	l, err := Listen(t, address)
	if err != nil {
		return nil, err
	}
	return &Server{Listener: l, Handler: handler, ShutdownTimeout: 10 * time.Second}, nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.Listener.Addr().String() }

// Run implements ifrit.Runner.
func (s *Server) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(s.Listener) }()
	close(ready)
	select {
	case err := <-errs:
		return err
	case <-signals:
		ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return srv.Close()
		}
		return err
	}
}

// ErrPlainOffLoopback refuses a daemon link without TLS on an address other
// hosts can reach.
var ErrPlainOffLoopback = errors.New("transport: a daemon link without TLS may listen on a loopback address only: give it a tls block (docs/operations.md, \"TLS and roles\")")

// ListenLink opens the listener of a daemon-to-daemon API (BBS, auctioneer,
// rep): mutual TLS, or plain HTTP only when it listens on loopback.
func ListenLink(t TLS, address string) (net.Listener, error) {
	if !t.Enabled() && !loopback(address) {
		return nil, fmt.Errorf("listening on %s: %w", address, ErrPlainOffLoopback)
	}
	return Listen(t, address)
}

// NewLinkServer is NewServer for a daemon-to-daemon API (see ListenLink).
func NewLinkServer(t TLS, address string, handler http.Handler) (*Server, error) {
	l, err := ListenLink(t, address)
	if err != nil {
		return nil, err
	}
	return &Server{Listener: l, Handler: handler, ShutdownTimeout: 10 * time.Second}, nil
}

// loopback reports whether address (host:port) names only this machine.
func loopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
