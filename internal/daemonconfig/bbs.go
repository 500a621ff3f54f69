package daemonconfig

import (
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/bbs/maintain"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
)

// BBS is the BBS's JSON config file.
type BBS struct {
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

// DefaultBBS returns the defaults of every field.
func DefaultBBS() BBS {
	return BBS{
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
func (c BBS) Validate() error {
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
