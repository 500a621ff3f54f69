// Command bbs serves the BBS API over etcd. Run several against one etcd; all
// are active.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/encryption"
	"github.com/diego-runtime/diego/bbs/maintain"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
)

// Config is the BBS's JSON config file.
type Config struct {
	// ListenAddress serves the BBS API. Default ":8889".
	ListenAddress string `json:"listen_address"`
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17018".
	DebugAddress string `json:"debug_address"`
	// TLS for the API server and for calls to the auctioneer and reps; empty
	// means plain HTTP. Default empty.
	TLS transport.TLS `json:"tls"`
	// Etcd says how to reach the etcd cluster; endpoints are required.
	Etcd etcdrunner.ClientConfig `json:"etcd"`
	// AuctioneerLockName is the lock whose holder is the active auctioneer.
	// Default "auctioneer".
	AuctioneerLockName string `json:"auctioneer_lock_name"`
	// RequestTimeout bounds each API request and each etcd request; past it
	// the BBS answers 503. Default "10s".
	RequestTimeout time.Duration `json:"request_timeout"`
	// CallTimeout bounds each call to the auctioneer or a rep. Default "5s".
	CallTimeout time.Duration `json:"call_timeout"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
	// MaxInstances bounds a desired LRP's instances (InvalidLRP above it).
	// Default 10000.
	MaxInstances int `json:"max_instances"`
	// AllowPrivileged lets LRPs and tasks ask for privileged containers, whose
	// root is the host's root. Default false.
	AllowPrivileged bool `json:"allow_privileged"`
	// EncryptionKeys maps key labels to passphrases (16 characters or more);
	// every record is sealed at rest under ActiveKeyLabel, and records sealed
	// under any listed label stay readable. Required.
	EncryptionKeys map[string]string `json:"encryption_keys"`
	// ActiveKeyLabel names the key new records are sealed under. At start the
	// BBS rewrites every record sealed under another label (or stored plain)
	// to it. Required.
	ActiveKeyLabel string `json:"active_key_label"`
	// EtcdMaintenanceInterval is how often the BBS looks at etcd's space:
	// every BBS reads the alarms and sizes for /metrics, and the holder of
	// the bbs-maintenance lock compacts, defragments and disarms NOSPACE
	// (docs/bbs.md, "Space"). Default "10s".
	EtcdMaintenanceInterval time.Duration `json:"etcd_maintenance_interval"`
	// EtcdKeepRevisions is the history compaction keeps while etcd has room
	// (an event stream resumes within it); past half the quota none is kept.
	// Default 10000.
	EtcdKeepRevisions int64 `json:"etcd_keep_revisions"`
	// EtcdMaintenanceLockTTL is how long a dead maintainer keeps the
	// bbs-maintenance lock. Default "15s" (lock.DefaultTTL).
	EtcdMaintenanceLockTTL time.Duration `json:"etcd_maintenance_lock_ttl"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{
		ListenAddress:      ":8889",
		DebugAddress:       "127.0.0.1:17018",
		AuctioneerLockName: "auctioneer",
		RequestTimeout:     10 * time.Second,
		CallTimeout:        5 * time.Second,
		MaxInstances:       models.DefaultMaxInstances,
		LogLevel:           "info",

		EtcdMaintenanceInterval: maintain.DefaultInterval,
		EtcdKeepRevisions:       maintain.DefaultKeepRevisions,
		EtcdMaintenanceLockTTL:  lock.DefaultTTL,
	}
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var p config.Problems
	p.Check(c.ListenAddress != "", "listen_address", "is required")
	p.Check(len(c.Etcd.Endpoints) > 0, "etcd.endpoints", "is required")
	p.Check(c.AuctioneerLockName != "", "auctioneer_lock_name", "is required")
	p.Positive(map[string]time.Duration{"request_timeout": c.RequestTimeout, "call_timeout": c.CallTimeout,
		"etcd_maintenance_interval": c.EtcdMaintenanceInterval})
	p.Check(c.MaxInstances > 0, "max_instances", "must be positive")
	p.Check(c.EtcdMaintenanceLockTTL >= time.Second, "etcd_maintenance_lock_ttl", "must be at least 1s")
	p.Check(c.EtcdKeepRevisions > 0, "etcd_keep_revisions", "must be positive")
	p.Check(len(c.EncryptionKeys) > 0, "encryption_keys", "is required: records are encrypted at rest (docs/operations.md)")
	p.Check(c.ActiveKeyLabel != "", "active_key_label", "is required")
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	return p.Err()
}

func main() { daemon.Main("bbs", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := DefaultConfig(); return &c }

func run(configPath string) error {
	cfg := DefaultConfig()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("bbs", cfg.LogLevel)
	if err != nil {
		return err
	}

	keys, err := encryption.New(cfg.EncryptionKeys, cfg.ActiveKeyLabel)
	if err != nil {
		return err
	}
	etcd, err := etcdrunner.NewClient(cfg.Etcd)
	if err != nil {
		return err
	}
	defer etcd.Close()
	callTimeout, requestTimeout := cfg.CallTimeout, cfg.RequestTimeout
	httpClient, err := transport.NewClient(cfg.TLS, callTimeout)
	if err != nil {
		return err
	}
	db, err := bbs.New(bbs.Options{
		Client: etcd,
		Logger: logger,
		Auctioneer: &auctioneerapi.Client{HTTP: httpClient, Locate: func(ctx context.Context) (string, error) {
			return lock.Holder(ctx, etcd, cfg.AuctioneerLockName)
		}},
		RepClients:      bbs.HTTPRepClients{HTTP: httpClient, Scheme: cfg.TLS.Scheme()},
		RequestTimeout:  requestTimeout,
		CallTimeout:     callTimeout,
		Keys:            keys,
		MaxInstances:    cfg.MaxInstances,
		AllowPrivileged: cfg.AllowPrivileged,
	})
	if err != nil {
		return err
	}

	handler := server.New(logger, db, server.Options{RequestTimeout: requestTimeout, Registerer: prometheus.DefaultRegisterer})
	api, err := transport.NewLinkServer(cfg.TLS, cfg.ListenAddress, handler)
	if err != nil {
		return err
	}
	debug, err := transport.NewServer(transport.TLS{}, cfg.DebugAddress, debugserver.Handler(nil))
	if err != nil {
		return err
	}
	maintainer, err := maintain.New(maintain.Options{
		Client: etcd, KeepRevisions: cfg.EtcdKeepRevisions, RequestTimeout: requestTimeout,
		Registerer: prometheus.DefaultRegisterer,
	})
	if err != nil {
		return err
	}
	space := &maintain.Runner{Maintainer: maintainer, Logger: logger, Clock: clock.NewClock(), Interval: cfg.EtcdMaintenanceInterval}
	host, err := os.Hostname()
	if err != nil {
		logger.Error("reading-hostname-failed", err)
		host = "bbs"
	}
	logger.Info("starting", lager.Data{"listen_address": api.Addr(), "debug_address": debug.Addr()})
	group := grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "debug-server", Runner: debug},
		{Name: "api-server", Runner: api},
		{Name: "event-streams", Runner: handler}, // stops first, ending open streams
		{Name: "record-rewriter", Runner: bbs.NewRecordRewriter(db, logger, clock.NewClock())},
		{Name: "etcd-space", Runner: space},
		{Name: "etcd-maintenance-lock", Runner: &lock.Standby{
			Lock: lock.Runner{Logger: logger, Client: etcd, Name: maintain.LockName,
				Value: host + " " + api.Addr(), TTL: cfg.EtcdMaintenanceLockTTL},
			Active: space.Tenure(),
		}},
	})
	process := ifrit.Invoke(sigmon.New(group))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}
