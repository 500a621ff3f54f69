package garden

import (
	"context"
	"io"
	"net"
	"syscall"
	"time"
)

// Backend is what the server serves and what the client offers: the full garden
// API. garden/linux implements it with runc; *Client implements it over the
// wire.
type Backend interface {
	Ping(ctx context.Context) error
	Capacity(ctx context.Context) (Capacity, error)
	Create(ctx context.Context, spec ContainerSpec) (ContainerInfo, error)
	Destroy(ctx context.Context, handle string) error
	// List returns the handles whose properties include every given pair.
	List(ctx context.Context, properties map[string]string) ([]string, error)
	Info(ctx context.Context, handle string) (ContainerInfo, error)
	Metrics(ctx context.Context, handle string) (Metrics, error)
	NetIn(ctx context.Context, handle string, rule NetInRule) (PortMapping, error)
	NetOut(ctx context.Context, handle string, rule NetOutRule) error
	// StreamIn unpacks a tar stream at dstPath inside the container.
	StreamIn(ctx context.Context, handle, dstPath string, tar io.Reader) error
	// StreamOut writes srcPath from the container as a tar stream.
	StreamOut(ctx context.Context, handle, srcPath string, w io.Writer) error
	// Run starts a process; its output goes to pio until it exits or until the
	// writers fail (a departed client). The process outlives the caller.
	Run(ctx context.Context, handle string, spec ProcessSpec, pio ProcessIO) (Process, error)
	// Attach follows a running (or finished) process: output from now on, and
	// its exit status.
	Attach(ctx context.Context, handle, processID string, pio ProcessIO) (Process, error)
	// Dial opens a TCP connection to address (IP:port; localhost:port is the
	// container's loopback) from inside the container's network namespace,
	// where nothing listens for it: it reaches what the container reaches.
	Dial(ctx context.Context, handle, address string) (net.Conn, error)
	// Stop sends SIGTERM to every process, then SIGKILL after grace.
	Stop(ctx context.Context, handle string, grace time.Duration) error
}

// ProcessIO receives a process's output and, given to Run, may feed its
// input. Nil writers discard; a nil Stdin is /dev/null. The process sees the
// end of Stdin as end of input (on a TTY nothing more is typed).
type ProcessIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Process is a running or finished process.
type Process interface {
	ID() string
	// Wait blocks until the process exits and returns its exit status (128+n
	// when killed by signal n).
	Wait() (int, error)
	Signal(sig syscall.Signal) error
	// Resize changes the size of the process's terminal (the process gets
	// SIGWINCH); a process without one answers InvalidSpec.
	Resize(size WindowSize) error
}
