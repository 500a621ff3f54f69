package auctioneer

import (
	"errors"
	"fmt"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/transport"
)

// Defaults of the auctioneer's configuration (DESIGN 11).
const (
	DefaultListenAddress      = ":9016"
	DefaultDebugAddress       = "127.0.0.1:17016"
	DefaultLockTTL            = 15 * time.Second
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
	// LockTTLMs is how long a dead active auctioneer keeps the lock; etcd
	// counts whole seconds. Default 15000.
	LockTTLMs int `json:"lock_ttl_ms"`
	// CellStateTimeoutMs bounds each GET /state attempt (one retry) and each
	// POST /work. Default 10000.
	CellStateTimeoutMs int `json:"cell_state_timeout_ms"`
	// RetryDelayMs holds back refused, rejected and deferred items before they
	// join a batch again. Default 1000.
	RetryDelayMs int `json:"retry_delay_ms"`
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
		ListenAddress:      DefaultListenAddress,
		DebugAddress:       DefaultDebugAddress,
		LockTTLMs:          int(DefaultLockTTL / time.Millisecond),
		CellStateTimeoutMs: int(DefaultCellStateTimeout / time.Millisecond),
		RetryDelayMs:       int(DefaultRetryDelay / time.Millisecond),
		StartingWeight:     DefaultStartingWeight,
		LocalityWeight:     DefaultLocalityWeight,
		MaxInflightStarts:  DefaultMaxInflightStarts,
		LogLevel:           "info",
	}
}

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	switch {
	case c.ListenAddress == "":
		return errors.New("listen_address is required")
	case c.LockTTLMs < 2000:
		return fmt.Errorf("lock_ttl_ms must be at least 2000, not %d", c.LockTTLMs)
	case c.CellStateTimeoutMs <= 0:
		return fmt.Errorf("cell_state_timeout_ms must be positive, not %d", c.CellStateTimeoutMs)
	case c.RetryDelayMs <= 0:
		return fmt.Errorf("retry_delay_ms must be positive, not %d", c.RetryDelayMs)
	case c.StartingWeight < 0 || c.LocalityWeight < 0:
		return errors.New("starting_weight and locality_weight must not be negative")
	case c.MaxInflightStarts < 0:
		return fmt.Errorf("max_inflight_starts must not be negative, not %d", c.MaxInflightStarts)
	}
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	return nil
}

// Weights returns the configured score weights.
func (c Config) Weights() Weights {
	return Weights{Starting: c.StartingWeight, Locality: c.LocalityWeight}
}
