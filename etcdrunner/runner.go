// Package etcdrunner runs an embedded etcd member as an ifrit runner (for
// development clusters and tests) and builds etcd clients for real clusters.
//
// A Runner keeps its data directory and ports across Stop and Start, so a test
// can take etcd away and bring the same member back on the same data.
package etcdrunner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// Defaults for Config.
const (
	DefaultName         = "diego"
	DefaultStartTimeout = 60 * time.Second
	// DefaultMaxTxnOps is larger than etcd's own 128 so that one transaction can
	// hold a batch of records; the BBS never relies on more than 128.
	DefaultMaxTxnOps = 1024
	// DefaultAutoCompactionMode and DefaultAutoCompactionRetention are etcd's
	// own backstop compaction: keep the last 100,000 revisions. The BBS
	// compacts much closer than that (bbs/maintain); this only bounds history
	// when no BBS runs.
	DefaultAutoCompactionMode      = "revision"
	DefaultAutoCompactionRetention = "100000"
	// DefaultClusterToken is every cluster's token unless its config names one.
	DefaultClusterToken = "diego"
)

// Config describes one embedded member.
type Config struct {
	// Name of the member. Default "diego".
	Name string `json:"name"`
	// DataDir holds the member's data; required.
	DataDir string `json:"data_dir"`
	// ClientURL is where clients connect, e.g. "http://127.0.0.1:2379". A port of
	// 0 (or an empty URL) picks a free loopback port once, at New.
	ClientURL string `json:"client_url"`
	// PeerURL is the raft peer URL; a port of 0 (or empty) picks a free port.
	PeerURL string `json:"peer_url"`
	// LogLevel of etcd's own logger: debug, info, warn, error or fatal. Default "error".
	LogLevel string `json:"log_level"`
	// UnsafeNoFsync skips fsync: fast, and only for throwaway test data. Default false.
	UnsafeNoFsync bool `json:"unsafe_no_fsync"`
	// StartTimeout bounds the wait for the member to serve. Default 60 s.
	StartTimeout time.Duration `json:"start_timeout"`
	// QuotaBackendBytes is the size the member's database may reach before
	// etcd raises the NOSPACE alarm and refuses every write until the alarm
	// is disarmed (the BBS compacts, defragments and disarms it: docs/bbs.md).
	// Default 0: etcd's own default, 2 GiB.
	QuotaBackendBytes int64 `json:"quota_backend_bytes"`
	// AutoCompactionMode is "revision" (keep the last AutoCompactionRetention
	// revisions) or "periodic" (keep AutoCompactionRetention, a Go duration,
	// of history). Default "revision".
	AutoCompactionMode string `json:"auto_compaction_mode"`
	// AutoCompactionRetention goes with AutoCompactionMode: a revision count
	// or a duration such as "1h"; "0" turns etcd's own compaction off.
	// Default "100000".
	AutoCompactionRetention string `json:"auto_compaction_retention"`
	// TLS, when set, serves clients over TLS with this certificate and
	// requires a client certificate signed by its CA (ClientURL must then be
	// https://). Default empty: plain, no client authentication.
	TLS ServerTLS `json:"tls"`
	// InitialCluster names every member of a new cluster and its peer URL,
	// "NAME=URL" each, this member's among them (its Name and PeerURL).
	// Every member of one cluster is given the same list. Default empty: a
	// cluster of this member alone.
	InitialCluster []string `json:"initial_cluster"`
	// ClusterToken tells this cluster's peers from another's on the same
	// network; every member of one cluster is given the same. Default
	// "diego".
	ClusterToken string `json:"cluster_token"`
	// PeerTLS, when set, serves and dials peers over TLS with this
	// certificate and requires a peer certificate signed by its CA (the peer
	// URLs must then be https://). The certificate serves as client and
	// server, so it must be good for both. Default empty: plain peers.
	PeerTLS ServerTLS `json:"peer_tls"`
}

// ServerTLS names the files the member serves clients with.
type ServerTLS struct {
	CACertFile string `json:"ca_cert_file,omitempty"`
	CertFile   string `json:"cert_file,omitempty"`
	KeyFile    string `json:"key_file,omitempty"`
}

// Runner is one embedded etcd member. Use it as an ifrit runner, or call Start
// and Stop directly. It is safe for concurrent use.
type Runner struct {
	cfg       Config
	clientURL url.URL
	peerURL   url.URL

	mu       sync.Mutex
	etcd     *embed.Etcd
	stopping atomic.Bool // silences etcd's logger while it closes
}

// New resolves the config (picking free ports where asked) without starting etcd.
func New(cfg Config) (*Runner, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("etcdrunner: data_dir is required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "error"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.QuotaBackendBytes < 0 {
		return nil, errors.New("etcdrunner: quota_backend_bytes must not be negative")
	}
	if cfg.AutoCompactionMode == "" {
		cfg.AutoCompactionMode = DefaultAutoCompactionMode
		if cfg.AutoCompactionRetention == "" {
			cfg.AutoCompactionRetention = DefaultAutoCompactionRetention
		}
	}
	if cfg.AutoCompactionMode != "revision" && cfg.AutoCompactionMode != "periodic" {
		return nil, fmt.Errorf("etcdrunner: auto_compaction_mode %q: want revision or periodic", cfg.AutoCompactionMode)
	}
	if cfg.AutoCompactionRetention == "" {
		return nil, errors.New("etcdrunner: auto_compaction_retention is required with auto_compaction_mode")
	}
	clientURL, err := resolveURL(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcdrunner: client url: %w", err)
	}
	if (cfg.TLS != ServerTLS{}) != (clientURL.Scheme == "https") {
		return nil, fmt.Errorf("etcdrunner: client url %s: https goes with a tls block and only with it", clientURL.String())
	}
	if cfg.TLS != (ServerTLS{}) && (cfg.TLS.CACertFile == "" || cfg.TLS.CertFile == "" || cfg.TLS.KeyFile == "") {
		return nil, errors.New("etcdrunner: tls needs ca_cert_file, cert_file and key_file together")
	}
	peerURL, err := resolveURL(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("etcdrunner: peer url: %w", err)
	}
	if err := checkPeers(cfg, peerURL); err != nil {
		return nil, err
	}
	if cfg.ClusterToken == "" {
		cfg.ClusterToken = DefaultClusterToken
	}
	return &Runner{cfg: cfg, clientURL: clientURL, peerURL: peerURL}, nil
}

// resolveURL parses raw and replaces a zero (or missing) port by a free one.
func resolveURL(raw string) (url.URL, error) {
	if raw == "" {
		raw = "http://127.0.0.1:0"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return url.URL{}, err
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return url.URL{}, err
	}
	if port == "0" {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return url.URL{}, err
		}
		u.Host = l.Addr().String()
		l.Close()
	}
	return *u, nil
}

// Endpoint is the client URL, e.g. "http://127.0.0.1:41234".
func (r *Runner) Endpoint() string { return r.clientURL.String() }

// Start starts the member and returns once it serves clients. Starting a running
// member is an error.
func (r *Runner) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.etcd != nil {
		return errors.New("etcdrunner: already running")
	}
	ec := embed.NewConfig()
	ec.Name = r.cfg.Name
	ec.Dir = r.cfg.DataDir
	ec.ListenClientUrls = []url.URL{r.clientURL}
	ec.AdvertiseClientUrls = []url.URL{r.clientURL}
	ec.ListenPeerUrls = []url.URL{r.peerURL}
	ec.AdvertisePeerUrls = []url.URL{r.peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	if len(r.cfg.InitialCluster) > 0 {
		ec.InitialCluster = strings.Join(r.cfg.InitialCluster, ",")
	}
	ec.InitialClusterToken = r.cfg.ClusterToken
	if r.cfg.PeerTLS != (ServerTLS{}) {
		ec.PeerTLSInfo = transport.TLSInfo{
			CertFile: r.cfg.PeerTLS.CertFile, KeyFile: r.cfg.PeerTLS.KeyFile,
			TrustedCAFile: r.cfg.PeerTLS.CACertFile, ClientCertAuth: true,
		}
	}
	if r.cfg.TLS != (ServerTLS{}) {
		ec.ClientTLSInfo = transport.TLSInfo{
			CertFile: r.cfg.TLS.CertFile, KeyFile: r.cfg.TLS.KeyFile,
			TrustedCAFile: r.cfg.TLS.CACertFile, ClientCertAuth: true,
		}
	}
	lg, err := newEtcdLogger(r.cfg.LogLevel, &r.stopping)
	if err != nil {
		return fmt.Errorf("etcdrunner: log level %q: %w", r.cfg.LogLevel, err)
	}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	r.stopping.Store(false)
	ec.UnsafeNoFsync = r.cfg.UnsafeNoFsync
	ec.MaxTxnOps = DefaultMaxTxnOps
	// Keep history short enough to stay small but long enough to resume watches.
	ec.AutoCompactionMode = r.cfg.AutoCompactionMode
	ec.AutoCompactionRetention = r.cfg.AutoCompactionRetention
	ec.QuotaBackendBytes = r.cfg.QuotaBackendBytes

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return fmt.Errorf("etcdrunner: starting etcd in %s: %w", r.cfg.DataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		r.stopping.Store(true)
		e.Close()
		return fmt.Errorf("etcdrunner: etcd failed while starting: %w", err)
	case <-time.After(r.cfg.StartTimeout):
		r.stopping.Store(true)
		e.Server.Stop()
		e.Close()
		return fmt.Errorf("etcdrunner: etcd not ready after %s", r.cfg.StartTimeout)
	}
	r.etcd = e
	return nil
}

// Stop stops the member, keeping its data. Stopping a stopped member does nothing.
func (r *Runner) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.etcd == nil {
		return
	}
	r.stopping.Store(true)
	r.etcd.Close()
	r.etcd = nil
}

// Errors reports errors of the running member (nil channel when stopped).
func (r *Runner) errs() <-chan error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.etcd == nil {
		return nil
	}
	return r.etcd.Err()
}

// Run implements ifrit.Runner: ready once etcd serves, stops on a signal.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if err := r.Start(); err != nil {
		return err
	}
	close(ready)
	select {
	case <-signals:
		r.Stop()
		return nil
	case err := <-r.errs():
		r.Stop()
		return fmt.Errorf("etcdrunner: %w", err)
	}
}

// Client returns a client for this member; the caller closes it.
func (r *Runner) Client() (*clientv3.Client, error) {
	return NewClient(ClientConfig{Endpoints: []string{r.Endpoint()}})
}

// StartForTest starts a throwaway member (fsync off, free ports) in dir and
// returns it with its endpoint. It panics on failure, which Ginkgo reports as a
// failed setup; callers stop it with DeferCleanup(runner.Stop).
func StartForTest(dir string) (*Runner, string) {
	return StartForTestWith(Config{DataDir: dir})
}

// StartForTestWith is StartForTest with more of the config given (a space
// quota, say); fsync is off and etcd logs at fatal.
func StartForTestWith(cfg Config) (*Runner, string) {
	cfg.UnsafeNoFsync, cfg.LogLevel = true, "fatal"
	r, err := New(cfg)
	if err != nil {
		panic(err)
	}
	if err := r.Start(); err != nil {
		panic(err)
	}
	return r, r.Endpoint()
}

// WaitReady waits until a client can read from etcd through c, up to timeout.
func WaitReady(c *clientv3.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "/diego/ping")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcdrunner: etcd not reachable: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
