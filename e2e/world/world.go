package world

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/cluster"
)

// Options say what cluster to start. Zero values take the defaults noted.
type Options struct {
	BinDir     string // where Build put the binaries; required
	StateDir   string // default: a new directory under /tmp, removed by Stop
	Cells      int    // default 2
	Zones      int    // default: Cells
	PortOffset int    // added to every well-known port; default 0 (keep the cells' host ports under 65536)
	// IsolateCells runs every cell in its own network namespace, reaching the
	// brain only at the host bridge's address, as on machines of their own.
	IsolateCells bool
	// AllowLoopbackDownloads lets download actions fetch from this machine
	// (the specs' file servers); default false, as in diego up.
	AllowLoopbackDownloads bool

	PresenceTTL         time.Duration // default 3s
	Heartbeat           time.Duration // default 1s
	ConvergenceInterval time.Duration // default 1s
	// RouterMaxAttempts is the router's max_attempts (1: no retries);
	// default 0, the router's own (retries on).
	RouterMaxAttempts int

	// AllowLoopbackCallbacks lets completion callbacks reach servers the
	// test runs on loopback (`diego up --allow-loopback-callbacks`). Default false.
	AllowLoopbackCallbacks bool

	// EtcdQuotaMB is the embedded etcd's space quota; default diego up's.
	EtcdQuotaMB int
	// Settings override single fields of daemons' configs, each
	// "DAEMON.FIELD=JSON" (`diego up --set`). Default none.
	Settings []string

	StartTimeout time.Duration // how long `diego up` may take; default 90s
	StopTimeout  time.Duration // how long it may take to stop after SIGINT; default 90s
	Output       io.Writer     // gets `diego up`'s output as well; default none
}

// World is a running cluster.
type World struct {
	ReceptorURL  string // http://127.0.0.1:PORT
	RouterURL    string // http://127.0.0.1:PORT
	RegistryHost string // 127.0.0.1:PORT
	StateDir     string
	BinDir       string
	// Config is the cluster's layout as `diego up` computed it (ports, cells).
	Config cluster.Config

	opts       Options
	ownedState bool
	cmd        *exec.Cmd
	exited     chan struct{}
	exitErr    error
	output     *syncBuffer

	mu      sync.Mutex
	killed  map[int]bool // cells killed on purpose: their leftovers are expected
	damaged bool         // a cell was killed or evacuated
	paused  map[int]bool // daemons stopped with SIGSTOP, by pid
	cuts    map[int]bool // ports cut with iptables
}

// Start runs `diego up` and returns once it says it is up and the receptor
// lists every cell.
func Start(opts Options) (*World, error) {
	if opts.BinDir == "" {
		return nil, errors.New("world: Options.BinDir is required (see Build)")
	}
	if opts.Cells == 0 {
		opts.Cells = 2
	}
	if opts.Zones == 0 {
		opts.Zones = opts.Cells
	}
	if opts.PresenceTTL == 0 {
		opts.PresenceTTL = 3 * time.Second
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = time.Second
	}
	if opts.ConvergenceInterval == 0 {
		opts.ConvergenceInterval = time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 90 * time.Second
	}
	binDir, err := filepath.Abs(opts.BinDir)
	if err != nil {
		return nil, err
	}
	w := &World{BinDir: binDir, opts: opts, killed: map[int]bool{}, paused: map[int]bool{}, cuts: map[int]bool{}, exited: make(chan struct{}), output: &syncBuffer{}}
	w.Config = cluster.DefaultConfig()
	w.Config.Cells, w.Config.Zones = opts.Cells, opts.Zones
	w.Config.IsolateCells = opts.IsolateCells
	w.Config.ShiftPorts(opts.PortOffset)
	if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/cells", w.Config.ReceptorPort)); err == nil {
		resp.Body.Close()
		return nil, fmt.Errorf("world: a receptor already answers on port %d: another cluster runs with port offset %d", w.Config.ReceptorPort, opts.PortOffset)
	}
	if opts.StateDir == "" {
		if w.StateDir, err = os.MkdirTemp("/tmp", "diego-world-"); err != nil {
			return nil, err
		}
		w.ownedState = true
		// Container root is an unprivileged host uid: it must be able to reach
		// the rootfs mounts under the state dir (MkdirTemp makes it 0700).
		if err := os.Chmod(w.StateDir, 0o755); err != nil {
			return nil, err
		}
	} else if w.StateDir, err = filepath.Abs(opts.StateDir); err != nil {
		return nil, err
	}

	w.Config.StateDir, w.Config.BinDir = w.StateDir, binDir

	args := []string{"up", "--state-dir", w.StateDir,
		"--cells", strconv.Itoa(opts.Cells), "--zones", strconv.Itoa(opts.Zones),
		"--presence-ttl", opts.PresenceTTL.String(), "--heartbeat-interval", opts.Heartbeat.String(),
		"--convergence-interval", opts.ConvergenceInterval.String(),
		"--port-offset", strconv.Itoa(opts.PortOffset)}
	if opts.IsolateCells {
		args = append(args, "--isolate-cells")
	}
	if opts.AllowLoopbackDownloads {
		args = append(args, "--allow-loopback-downloads")
	}
	if opts.RouterMaxAttempts > 0 {
		args = append(args, "--router-max-attempts", strconv.Itoa(opts.RouterMaxAttempts))
	}
	if opts.AllowLoopbackCallbacks {
		args = append(args, "--allow-loopback-callbacks")
	}
	if opts.EtcdQuotaMB > 0 {
		args = append(args, "--etcd-quota-mb", strconv.Itoa(opts.EtcdQuotaMB))
	}
	for _, s := range opts.Settings {
		args = append(args, "--set", s)
	}
	w.cmd = exec.Command(filepath.Join(binDir, "diego"), args...)
	w.cmd.Env = append(os.Environ(), "DIEGO_TARGET=")
	// Its own process group, so a Ctrl-C at the test's terminal goes through
	// Stop; and if the test process dies, the cluster is told to stop.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var sink io.Writer = w.output
	if opts.Output != nil {
		sink = io.MultiWriter(w.output, opts.Output)
	}
	w.cmd.Stderr = sink
	if err := w.cmd.Start(); err != nil {
		if w.ownedState {
			_ = os.RemoveAll(w.StateDir)
		}
		return nil, fmt.Errorf("starting diego up: %w", err)
	}

	lines := make(chan string, 64)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			line := scanner.Text()
			fmt.Fprintln(sink, line)
			select {
			case lines <- line:
			default:
			}
		}
		close(lines)
	}()
	go func() {
		w.exitErr = w.cmd.Wait()
		close(w.exited)
	}()

	if err := w.waitUp(lines); err != nil {
		_ = w.Stop()
		return nil, err
	}
	return w, nil
}

// waitUp reads `diego up`'s output for its addresses, then waits until the
// receptor lists every cell.
func (w *World) waitUp(lines <-chan string) error {
	deadline := time.After(w.opts.StartTimeout)
	up := false
	for !up || w.ReceptorURL == "" || w.RouterURL == "" || w.RegistryHost == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				<-w.exited
				return fmt.Errorf("diego up exited before it was up (%v):\n%s", w.exitErr, w.output.String())
			}
			field := func(prefix string) string {
				fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), prefix))
				if len(fields) == 0 {
					return ""
				}
				return fields[0]
			}
			trimmed := strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "Diego is up"):
				up = true
			case strings.HasPrefix(trimmed, "receptor (API):"):
				w.ReceptorURL = field("receptor (API):")
			case strings.HasPrefix(trimmed, "router:"):
				w.RouterURL = field("router:")
			case strings.HasPrefix(trimmed, "image registry:"):
				w.RegistryHost = field("image registry:")
			}
		case <-deadline:
			return fmt.Errorf("diego up did not say it was up within %s:\n%s", w.opts.StartTimeout, w.output.String())
		}
	}
	go func() { // keep draining so diego up never blocks on a full pipe
		for range lines {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.StartTimeout)
	defer cancel()
	for {
		cells, err := w.Cells()
		if err == nil && len(cells) == w.opts.Cells {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the receptor did not list %d cells within %s (last: %d, %v)", w.opts.Cells, w.opts.StartTimeout, len(cells), err)
		case <-w.exited:
			return fmt.Errorf("diego up exited (%v):\n%s", w.exitErr, w.output.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Running says whether `diego up` is still running.
func (w *World) Running() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// Output is everything `diego up` has printed so far.
func (w *World) Output() string { return w.output.String() }

// CLI runs the diego command against this cluster (DIEGO_TARGET set, so that
// arguments after "--" stay the command's; an explicit --target still wins)
// and returns what it printed and its exit code.
func (w *World) CLI(args ...string) (stdout, stderr string, exitCode int) {
	return w.CLIContext(context.Background(), args...)
}

// CLIContext is CLI that ctx can cut short (for `logs --follow`, `events`).
func (w *World) CLIContext(ctx context.Context, args ...string) (stdout, stderr string, exitCode int) {
	cmd := exec.CommandContext(ctx, filepath.Join(w.BinDir, "diego"), args...)
	cmd.Env = append(os.Environ(), "DIEGO_TARGET="+w.ReceptorURL)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		}
	}
	return out.String(), errOut.String(), code
}

// LogPath is the log file of one daemon (e.g. "cell-1-rep").
func (w *World) LogPath(child string) string {
	return filepath.Join(w.StateDir, "logs", child+".log")
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
