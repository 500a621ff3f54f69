package router

import (
	"errors"
	"fmt"
	"time"

	"github.com/diego-runtime/diego/internal/transport"
)

// Defaults for Config.
const (
	DefaultListenAddress         = ":8080"
	DefaultNATSURL               = "nats://127.0.0.1:4222"
	DefaultDialTimeout           = 500 * time.Millisecond
	DefaultPruneThreshold        = 120 * time.Second
	DefaultPruneInterval         = 30 * time.Second
	DefaultPublisherSilence      = 40 * time.Second
	DefaultTries                 = 3
	DefaultMaxAttempts           = 0 // no bound beyond Tries and the connect-failure cap
	DefaultFailedEndpointHoldoff = 10 * time.Second
	DefaultStartMessageInterval  = 20 * time.Second
	DefaultRegisterInterval      = 20 * time.Second
	DefaultShutdownTimeout       = 20 * time.Second
)

// Config configures a Router. Durations are Go duration strings ("500ms",
// "2m"), read through internal/config like every daemon's.
type Config struct {
	// ListenAddress is where the proxy listens. Default ":8080".
	ListenAddress string `json:"listen_address"`
	// NATSURLs are the NATS servers to read routes from. Default
	// ["nats://127.0.0.1:4222"].
	NATSURLs []string `json:"nats_urls"`
	// NATSTLS is the certificate that names the router to NATS; empty
	// connects plain. Default empty.
	NATSTLS transport.TLS `json:"nats_tls"`
	// ID names this router in router.start; empty generates one. Default "".
	ID string `json:"id"`
	// Hosts are this router's addresses, advertised in router.start.
	// Default none.
	Hosts []string `json:"hosts"`
	// DialTimeout bounds opening a connection to an endpoint. Default 500ms.
	DialTimeout time.Duration `json:"dial_timeout"`
	// PruneThreshold is how long an endpoint lives without a refresh.
	// Default 120s.
	PruneThreshold time.Duration `json:"prune_threshold"`
	// PruneInterval is how often stale endpoints are swept. Default 30s.
	PruneInterval time.Duration `json:"prune_interval"`
	// PublisherSilence: when no registration at all has arrived for this
	// long, every publisher is taken to be away (the route emitter lost its
	// lock or NATS) rather than every app gone, and pruning waits until
	// registrations flow again (and one PruneInterval more). It must be
	// shorter than PruneThreshold; 0 turns the rule off. Pruning also waits
	// while NATS is disconnected and for one PruneInterval after it
	// reconnects, whatever this is. Default 40s.
	PublisherSilence time.Duration `json:"publisher_silence"`
	// Tries bounds the attempts of one request that reached an endpoint
	// (attempts that could not connect do not count, up to 10 of them).
	// Default 3.
	Tries int `json:"tries"`
	// MaxAttempts bounds every attempt of one request, those that could not
	// connect included: 1 sends each request to one endpoint only and
	// answers 502 if that fails, which shows whether routes are withdrawn
	// before their backends go. 0 means no bound beyond Tries and the cap
	// of 10 connect failures. Default 0.
	MaxAttempts int `json:"max_attempts"`
	// FailedEndpointHoldoff is how long an endpoint that failed is skipped
	// (unless it is the only one left to try). Default 10s.
	FailedEndpointHoldoff time.Duration `json:"failed_endpoint_holdoff"`
	// StartMessageInterval is how often router.start is published again.
	// Default 20s.
	StartMessageInterval time.Duration `json:"start_message_interval"`
	// RegisterInterval is the refresh interval asked of publishers
	// (minimumRegisterIntervalInSeconds). Default 20s.
	RegisterInterval time.Duration `json:"register_interval"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after a stop signal. Default 20s.
	ShutdownTimeout time.Duration `json:"shutdown_timeout"`
}

// DefaultConfig returns the defaults listed on each field.
func DefaultConfig() Config {
	return Config{
		ListenAddress:         DefaultListenAddress,
		NATSURLs:              []string{DefaultNATSURL},
		DialTimeout:           DefaultDialTimeout,
		PruneThreshold:        DefaultPruneThreshold,
		PruneInterval:         DefaultPruneInterval,
		PublisherSilence:      DefaultPublisherSilence,
		Tries:                 DefaultTries,
		MaxAttempts:           DefaultMaxAttempts,
		FailedEndpointHoldoff: DefaultFailedEndpointHoldoff,
		StartMessageInterval:  DefaultStartMessageInterval,
		RegisterInterval:      DefaultRegisterInterval,
		ShutdownTimeout:       DefaultShutdownTimeout,
	}
}

// Validate reports every field that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.ListenAddress == "" {
		errs = append(errs, errors.New("listen_address is required"))
	}
	if len(c.NATSURLs) == 0 {
		errs = append(errs, errors.New("nats_urls is required"))
	}
	for name, d := range map[string]time.Duration{
		"dial_timeout": c.DialTimeout, "prune_threshold": c.PruneThreshold,
		"prune_interval": c.PruneInterval, "start_message_interval": c.StartMessageInterval,
		"register_interval": c.RegisterInterval,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.PublisherSilence < 0 || (c.PublisherSilence > 0 && c.PublisherSilence >= c.PruneThreshold) {
		errs = append(errs, fmt.Errorf("publisher_silence (%s) must be 0 (off) or shorter than prune_threshold (%s)", c.PublisherSilence, c.PruneThreshold))
	}
	if c.FailedEndpointHoldoff < 0 || c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("failed_endpoint_holdoff and shutdown_timeout must not be negative"))
	}
	if c.Tries < 1 {
		errs = append(errs, errors.New("tries must be at least 1"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, errors.New("max_attempts must not be negative (0: no bound)"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("router config: %w", errors.Join(errs...))
	}
	return nil
}
