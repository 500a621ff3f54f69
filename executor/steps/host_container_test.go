package steps_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/diego-runtime/diego/executor/steps"
)

// hostContainer runs processes on the host with a root directory standing in for
// the container's filesystem: real processes and real signals, without garden.
type hostContainer struct{ root string }

func (h hostContainer) Run(_ context.Context, spec steps.ProcessSpec, stdout, stderr io.Writer) (steps.Process, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = h.root
	if spec.Dir != "" {
		cmd.Dir = filepath.Join(h.root, spec.Dir)
	}
	cmd.Env = spec.Env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &hostProcess{cmd: cmd}, nil
}

func (h hostContainer) StreamIn(_ context.Context, dst, _ string, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(h.root, dst, hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, os.FileMode(hdr.Mode)); err != nil {
			return err
		}
	}
}

func (h hostContainer) StreamOut(_ context.Context, src, _ string) (io.ReadCloser, error) {
	data, err := os.ReadFile(filepath.Join(h.root, src))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: filepath.Base(src), Mode: 0o644, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	return io.NopCloser(&buf), nil
}

type hostProcess struct {
	cmd  *exec.Cmd
	once sync.Once
	code int
	err  error
}

func (p *hostProcess) Wait() (int, error) {
	p.once.Do(func() {
		err := p.cmd.Wait()
		if exit, ok := err.(*exec.ExitError); ok {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.code = 128 + int(ws.Signal())
				return
			}
			p.code = exit.ExitCode()
			return
		}
		p.err = err
	})
	return p.code, p.err
}

func (p *hostProcess) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// bufferStreamer collects output per source.
type bufferStreamer struct {
	mu     *sync.Mutex
	source string
	out    map[string]*bytes.Buffer
}

func newBufferStreamer() *bufferStreamer {
	return &bufferStreamer{mu: &sync.Mutex{}, source: "APP", out: map[string]*bytes.Buffer{}}
}

func (b *bufferStreamer) writer(kind string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		key := b.source + "/" + kind
		if b.out[key] == nil {
			b.out[key] = &bytes.Buffer{}
		}
		return b.out[key].Write(p)
	})
}

func (b *bufferStreamer) Stdout() io.Writer { return b.writer("OUT") }
func (b *bufferStreamer) Stderr() io.Writer { return b.writer("ERR") }
func (b *bufferStreamer) WithSource(source string) steps.Streamer {
	if source == "" {
		return b
	}
	return &bufferStreamer{mu: b.mu, source: source, out: b.out}
}

func (b *bufferStreamer) Output(key string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out[key] == nil {
		return ""
	}
	return strings.TrimSpace(b.out[key].String())
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
