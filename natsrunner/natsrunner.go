package natsrunner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/natsclient"
)

// Defaults for Config.
const (
	DefaultHost                  = "127.0.0.1"
	DefaultPort                  = 4222
	DefaultLogsMaxMsgsPerSubject = natsclient.DefaultLogsMaxMsgsPerSubject
	// DefaultLogsMaxBytes and DefaultLogsMaxAge bound the whole LOGS stream,
	// which shares its disk with etcd: the oldest lines go first.
	DefaultLogsMaxBytes = natsclient.DefaultLogsMaxBytes
	DefaultLogsMaxAge   = natsclient.DefaultLogsMaxAge
	DefaultReadyTimeout = 10 * time.Second
	// LogsStream is the JetStream stream that keeps recent log lines; the
	// receptor and the reps also create it where it is missing.
	LogsStream = natsclient.LogsStream
	// LogsSubjects is the subject filter of LogsStream.
	LogsSubjects = natsclient.LogsSubjects
)

// Config configures the embedded server.
type Config struct {
	// Host is the client listen address. Default "127.0.0.1".
	Host string `json:"host"`
	// Port is the client port; 0 picks a free one. Default 4222 (in
	// DefaultConfig; the zero Config picks a free port).
	Port int `json:"port"`
	// StorageDir holds JetStream's files. Empty means memory: the LOGS
	// stream is kept in memory and JetStream's metadata goes to a temporary
	// directory removed on exit. Default empty.
	StorageDir string `json:"storage_dir"`
	// LogsMaxMsgsPerSubject bounds how many messages the LOGS stream keeps
	// per subject (per log guid). Default 1000.
	LogsMaxMsgsPerSubject int64 `json:"logs_max_msgs_per_subject"`
	// LogsMaxBytes bounds the whole LOGS stream's size; past it the oldest
	// lines are discarded. -1 means no bound. Default 256 MiB.
	LogsMaxBytes int64 `json:"logs_max_bytes"`
	// LogsMaxAge is how long the LOGS stream keeps a line (a Go duration
	// string, e.g. "24h"); a negative age keeps lines for ever. Default "24h".
	LogsMaxAge time.Duration `json:"logs_max_age"`
	// ReadyTimeout bounds how long the server may take to accept
	// connections. Default 10 s.
	ReadyTimeout time.Duration `json:"ready_timeout"`
	// TLS, when set, serves clients over TLS only and requires a client
	// certificate of its CA, which names the user the client is (see User;
	// nats-server's verify_and_map). The server's own certificate must also
	// be good for client authentication and name the nats role: the runner
	// connects with it to manage JetStream. Default empty: plain, no auth.
	TLS ServerTLS `json:"tls"`
	// Users are the clients let in under TLS, each with its subjects
	// (RoleUsers has Diego's). Only with TLS. Default none.
	Users []User `json:"users"`
	// ServerName names this server to its cluster's JetStream; it must be
	// unique in the cluster and stay the same across restarts. Default
	// empty: a new random name at every start (fine for one server alone).
	ServerName string `json:"server_name"`
	// Cluster, when it names routes, makes this server one node of a NATS
	// cluster with clustered JetStream. Default empty: a server alone.
	Cluster Cluster `json:"cluster"`
	// LogsReplicas is how many nodes keep a copy of the LOGS stream: 3 in a
	// three-node cluster lets it lose a node without losing a line. At most
	// the cluster's size. Default 1.
	LogsReplicas int `json:"logs_replicas"`
}

// DefaultConfig returns the development defaults.
func DefaultConfig() Config {
	return Config{Host: DefaultHost, Port: DefaultPort,
		LogsMaxMsgsPerSubject: DefaultLogsMaxMsgsPerSubject, ReadyTimeout: DefaultReadyTimeout,
		LogsMaxBytes: DefaultLogsMaxBytes, LogsMaxAge: DefaultLogsMaxAge}
}

// Validate reports everything that cannot work in a config at once.
func (c Config) Validate() error {
	var p config.Problems
	p.Check(c.Port >= 0 && c.Port <= 65535, "port", fmt.Sprintf("%d out of range", c.Port))
	p.Check(c.LogsMaxMsgsPerSubject >= 0, "logs_max_msgs_per_subject", "must not be negative")
	p.Check(c.LogsMaxBytes >= -1, "logs_max_bytes", "must be positive, or -1 for no bound")
	p.Check(len(c.Users) == 0 || c.TLS.Enabled(), "users", "are told apart by their certificates: they need tls")
	p.Check(c.LogsReplicas >= 0 && c.LogsReplicas <= 5, "logs_replicas", fmt.Sprintf("%d: want 1 to 5", c.LogsReplicas))
	p.Add(c.Cluster.validate(c.ServerName))
	if err := p.Err(); err != nil {
		return fmt.Errorf("natsrunner: %w", err)
	}
	return nil
}

// Runner is an ifrit runner for one embedded NATS server.
type Runner struct {
	logger lager.Logger
	config Config

	mu     sync.Mutex
	server *server.Server
}

// New returns a runner; nothing starts until Run.
func New(logger lager.Logger, config Config) *Runner {
	if config.Host == "" {
		config.Host = DefaultHost
	}
	if config.LogsMaxMsgsPerSubject == 0 {
		config.LogsMaxMsgsPerSubject = DefaultLogsMaxMsgsPerSubject
	}
	if config.ReadyTimeout == 0 {
		config.ReadyTimeout = DefaultReadyTimeout
	}
	if config.LogsMaxBytes == 0 {
		config.LogsMaxBytes = DefaultLogsMaxBytes
	}
	if config.LogsMaxAge == 0 {
		config.LogsMaxAge = DefaultLogsMaxAge
	}
	if config.LogsReplicas == 0 {
		config.LogsReplicas = 1
	}
	return &Runner{logger: logger.Session("nats"), config: config}
}

// ClientURL is the nats:// URL clients connect to. It is valid once the
// runner is ready (with port 0 the port is only known then); before, it is "".
func (r *Runner) ClientURL() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.server == nil {
		return ""
	}
	return r.server.ClientURL()
}

// Run implements ifrit.Runner: ready once the server accepts connections and
// the LOGS stream exists; on a signal it shuts the server down.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	storeDir := r.config.StorageDir
	storage := jetstream.FileStorage
	if storeDir == "" {
		dir, err := os.MkdirTemp("", "natsrunner-")
		if err != nil {
			return fmt.Errorf("natsrunner: creating jetstream dir: %w", err)
		}
		defer os.RemoveAll(dir)
		storeDir, storage = dir, jetstream.MemoryStorage
	}
	port := r.config.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host:      r.config.Host,
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoSigs:    true,
		// A unique name, so that servers started side by side (tests) never
		// look like one another to JetStream.
		ServerName: "diego-nats-" + nuid.Next(),
	}
	var clientTLS *tls.Config
	if r.config.TLS.Enabled() {
		serverTLS, err := r.config.TLS.ServerConfig()
		if err != nil {
			return fmt.Errorf("natsrunner: %w", err)
		}
		if clientTLS, err = r.config.TLS.ClientConfig(); err != nil {
			return fmt.Errorf("natsrunner: %w", err)
		}
		opts.TLS, opts.TLSVerify, opts.TLSMap = true, true, true
		opts.TLSConfig, opts.TLSTimeout = serverTLS, 5
		opts.Users = serverUsers(r.config.Users)
	}
	if r.config.ServerName != "" {
		opts.ServerName = r.config.ServerName
	}
	if err := r.config.Cluster.apply(opts, r.config.TLS); err != nil {
		return fmt.Errorf("natsrunner: %w", err)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("natsrunner: creating server: %w", err)
	}
	logger := &lagerLogger{logger: r.logger, fatal: make(chan error, 1)}
	s.SetLoggerV2(logger, false, false, false)
	go s.Start()
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	if err := waitReady(s, logger.fatal, r.config.ReadyTimeout); err != nil {
		return err
	}
	r.mu.Lock()
	r.server = s
	r.mu.Unlock()

	if err := r.ensureLogsStream(s.ClientURL(), storage, clientTLS); err != nil {
		return err
	}
	r.logger.Info("ready", lager.Data{"url": s.ClientURL(), "store_dir": storeDir})

	stopped := make(chan struct{})
	go func() {
		s.WaitForShutdown()
		close(stopped)
	}()
	close(ready)
	select {
	case <-signals:
		return nil
	case <-stopped:
		return errors.New("natsrunner: server stopped unexpectedly")
	}
}

// waitReady polls in short steps so that a fatal start error (a port in use)
// fails at once instead of after the whole timeout.
func waitReady(s *server.Server, fatal <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !s.ReadyForConnections(50 * time.Millisecond) {
		select {
		case err := <-fatal:
			return fmt.Errorf("natsrunner: starting server: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natsrunner: server not ready after %s", timeout)
		}
	}
	return nil
}

func (r *Runner) ensureLogsStream(url string, storage jetstream.StorageType, clientTLS *tls.Config) error {
	connectOpts := []nats.Option{nats.Name("natsrunner")}
	if clientTLS != nil {
		connectOpts = append(connectOpts, nats.Secure(clientTLS))
	}
	nc, err := nats.Connect(url, connectOpts...)
	if err != nil {
		return fmt.Errorf("natsrunner: connecting to %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsrunner: jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.config.ReadyTimeout)
	defer cancel()
	maxBytes, maxAge := r.config.LogsMaxBytes, r.config.LogsMaxAge
	if maxBytes < 0 {
		maxBytes = -1 // JetStream's "no bound"
	}
	if maxAge < 0 {
		maxAge = 0 // JetStream's "for ever"
	}
	// An existing stream (an older version's, or one changed by hand) is
	// updated to the configured bounds.
	want := jetstream.StreamConfig{
		Name:              LogsStream,
		Subjects:          []string{LogsSubjects},
		MaxMsgsPerSubject: r.config.LogsMaxMsgsPerSubject,
		MaxBytes:          maxBytes,
		MaxAge:            maxAge,
		Discard:           jetstream.DiscardOld,
		Storage:           storage,
		Replicas:          r.config.LogsReplicas,
	}
	// In a cluster the stream can be placed only once the nodes have met
	// and chosen a JetStream leader: try again until the ready timeout.
	var stream jetstream.Stream
	for {
		try, cancelTry := context.WithTimeout(ctx, 2*time.Second)
		stream, err = js.CreateOrUpdateStream(try, want)
		cancelTry()
		if err == nil {
			break
		}
		r.logger.Info("logs-stream-not-yet", lager.Data{"error": err.Error()})
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsrunner: creating or updating stream %s: %w", LogsStream, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	cfg := stream.CachedInfo().Config
	r.logger.Info("logs-stream", lager.Data{"replicas": cfg.Replicas, "max_bytes": cfg.MaxBytes, "max_age": cfg.MaxAge.String(),
		"max_msgs_per_subject": cfg.MaxMsgsPerSubject})
	return nil
}

// Start runs the runner in the background and waits until it is ready or has
// failed.
func Start(runner *Runner) (ifrit.Process, error) {
	process := ifrit.Background(runner)
	select {
	case <-process.Ready():
		return process, nil
	case err := <-process.Wait():
		if err == nil {
			err = errors.New("natsrunner: exited before ready")
		}
		return nil, err
	}
}

// StartForTest starts a server on a random loopback port with JetStream
// files under dir (use a per-test temporary directory) and waits until it is
// ready. Stop it with ginkgomon.Interrupt(process) or by signalling process.
func StartForTest(dir string) (*Runner, ifrit.Process, error) {
	config := DefaultConfig()
	config.Port = 0
	config.StorageDir = dir
	runner := New(lager.NewLogger("natsrunner-test"), config)
	process, err := Start(runner)
	if err != nil {
		return nil, nil, err
	}
	return runner, process, nil
}

// lagerLogger adapts nats-server's logger to lager. The server reports a
// failure to start only through Fatalf, so the first one is also passed on.
type lagerLogger struct {
	logger lager.Logger
	fatal  chan error
}

func (l *lagerLogger) Noticef(format string, v ...any) {
	l.logger.Debug("notice", lager.Data{"message": fmt.Sprintf(format, v...)})
}
func (l *lagerLogger) Warnf(format string, v ...any) {
	l.logger.Info("warning", lager.Data{"message": fmt.Sprintf(format, v...)})
}
func (l *lagerLogger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	l.logger.Error("fatal", err)
	select {
	case l.fatal <- err:
	default:
	}
}
func (l *lagerLogger) Errorf(format string, v ...any) {
	l.logger.Error("error", fmt.Errorf(format, v...))
}
func (l *lagerLogger) Debugf(format string, v ...any) {}
func (l *lagerLogger) Tracef(format string, v ...any) {}
