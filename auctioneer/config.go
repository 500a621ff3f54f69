package auctioneer

import (
	"fmt"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
)

// Defaults of the auctioneer's configuration (DESIGN 11).
const (
	DefaultListenAddress      = ":9016"
	DefaultDebugAddress       = "127.0.0.1:17016"
	DefaultLockTTL            = lock.DefaultTTL
	DefaultCellStateTimeout   = 10 * time.Second
	DefaultMaxInflightStarts  = 0
	DefaultLockName           = "auctioneer"
	defaultAdvertiseURLFormat = "%s://127.0.0.1:%s"
)

// Config is the auctioneer's configuration, read from JSON by cmd/auctioneer.
type Config struct {
	// ListenAddress serves the auction API. Default ":9016".
	ListenAddress string `json:"listen_address"`
	// AdvertiseURL is how the BBS reaches this auctioneer; it is the lock's
	// value. Default: the scheme, 127.0.0.1 and the listen port.
	AdvertiseURL string `json:"advertise_url"`
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17016".
	DebugAddress string `json:"debug_address"`
	// LockTTL is how long a dead active auctioneer keeps the lock; etcd
	// counts whole seconds. Default "15s" (lock.DefaultTTL).
	LockTTL time.Duration `json:"lock_ttl"`
	// CellStateTimeout bounds each GET /state attempt (one retry) and each
	// POST /work. Default "10s".
	CellStateTimeout time.Duration `json:"cell_state_timeout"`
	// RetryDelay holds back refused, rejected and deferred items before they
	// join a batch again. Default "1s".
	RetryDelay time.Duration `json:"retry_delay"`
	// StartingWeight and LocalityWeight are the score weights. Defaults 0.25
	// and 1000.
	StartingWeight float64 `json:"starting_weight"`
	LocalityWeight float64 `json:"locality_weight"`
	// MaxInflightStarts caps the containers starting across all cells; 0 (the
	// default) means no cap.
	MaxInflightStarts int `json:"max_inflight_starts"`
	// TLS for the auction API, the BBS and the reps. Default: plain HTTP.
	TLS transport.TLS `json:"tls"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		ListenAddress:     DefaultListenAddress,
		DebugAddress:      DefaultDebugAddress,
		LockTTL:           DefaultLockTTL,
		CellStateTimeout:  DefaultCellStateTimeout,
		RetryDelay:        DefaultRetryDelay,
		StartingWeight:    DefaultStartingWeight,
		LocalityWeight:    DefaultLocalityWeight,
		MaxInflightStarts: DefaultMaxInflightStarts,
		LogLevel:          "info",
	}
}

// Validate reports every field that cannot work.
func (c Config) Validate() error {
	var p config.Problems
	p.Check(c.ListenAddress != "", "listen_address", "is required")
	p.Check(c.LockTTL >= 2*time.Second, "lock_ttl", fmt.Sprintf("must be at least 2s, not %s", c.LockTTL))
	p.Positive(map[string]time.Duration{"cell_state_timeout": c.CellStateTimeout, "retry_delay": c.RetryDelay})
	p.Check(c.StartingWeight >= 0, "starting_weight", "must not be negative")
	p.Check(c.LocalityWeight >= 0, "locality_weight", "must not be negative")
	p.Check(c.MaxInflightStarts >= 0, "max_inflight_starts", fmt.Sprintf("must not be negative, not %d", c.MaxInflightStarts))
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	return p.Err()
}

// Weights returns the configured score weights.
func (c Config) Weights() Weights {
	return Weights{Starting: c.StartingWeight, Locality: c.LocalityWeight}
}
