package rep

import (
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/natsclient"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/models"
)

// Config is the rep's settings; DefaultConfig holds every default.
type Config struct {
	CellID string `json:"cell_id"` // required
	Zone   string `json:"zone"`    // default "z1"
	// IsolationSegment names the isolation segment the cell belongs to; it
	// travels in the cell's presence into every route registration of its
	// instances. Default "" (none).
	IsolationSegment string `json:"isolation_segment"`

	ListenAddress      string `json:"listen_address"`       // default "0.0.0.0:1800"
	AdvertiseURL       string `json:"advertise_url"`        // how others reach ListenAddress; default http://127.0.0.1:1800
	AdminListenAddress string `json:"admin_listen_address"` // /evacuate; default "127.0.0.1:1801"
	DebugAddress       string `json:"debug_address"`        // /ping, /metrics; default "127.0.0.1:17008"

	BBSURLs      []string      `json:"bbs_urls"`      // default [http://127.0.0.1:8889]
	BBSTimeout   time.Duration `json:"bbs_timeout"`   // bounds each call to the BBS; default 10 s
	GardenSocket string        `json:"garden_socket"` // default /var/run/diego/garden.sock
	// NATSURLs are the members of the NATS cluster that carries logs and
	// metrics, tried in order; the rep creates the LOGS stream where it is
	// missing (LogsStream) and refuses to start if it cannot keep log lines.
	// Default ["nats://127.0.0.1:4222"].
	NATSURLs []string `json:"nats_urls"`
	// LogsStream is what the LOGS stream is created with when missing.
	LogsStream natsclient.LogStreamConfig `json:"logs_stream"`
	TLS        transport.TLS              `json:"tls"`      // for the rep API and its calls to the BBS; default none (plain)
	NATSTLS    transport.TLS              `json:"nats_tls"` // certificate naming this cell's rep to NATS; default none (plain)

	PresenceTTL       time.Duration `json:"presence_ttl"`       // default 15 s
	HeartbeatInterval time.Duration `json:"heartbeat_interval"` // default 5 s
	HarmonizeInterval time.Duration `json:"harmonize_interval"` // default 30 s
	// AdoptionRetryInterval is how often the rep tries again to adopt the
	// containers garden holds while garden does not answer at start. Default 1 s.
	AdoptionRetryInterval time.Duration `json:"adoption_retry_interval"`
	// CreateFailureThreshold is how many container creates in a row may fail
	// for a reason of the cell's own before the cell calls itself unhealthy
	// (it takes no work) for CreateFailureCooldown after the last one.
	// Defaults 3 and 1 min.
	CreateFailureThreshold int           `json:"create_failure_threshold"`
	CreateFailureCooldown  time.Duration `json:"create_failure_cooldown"`

	// DrainDelay is how long an instance that is to stop stays up after its
	// route was withdrawn, so that routers have stopped sending it requests
	// before it gets SIGTERM (then SIGKILL after executor.grace_period).
	// Default 2 s; 0 stops at once.
	DrainDelay time.Duration `json:"drain_delay"`

	EvacuationTimeout         time.Duration `json:"evacuation_timeout"`          // default 10 min
	EvacuationPollingInterval time.Duration `json:"evacuation_polling_interval"` // default 10 s

	RootFSProviders       models.RootFSProviders `json:"rootfs_providers"`        // default {"docker": []}
	PlacementTags         []string               `json:"placement_tags"`          // work must ask for every one of these to land here; default none
	OptionalPlacementTags []string               `json:"optional_placement_tags"` // work may also ask for these; default none

	// LogRateLimit is the lines per second each instance may log; 0 = no limit.
	LogRateLimit int `json:"log_rate_limit"`

	// DisableSSH turns off the shell endpoints the receptor's SSH server
	// uses (`diego ssh` into this cell's instances). Default false: on.
	DisableSSH bool `json:"disable_ssh"`

	Executor executor.Config `json:"executor"`

	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultDrainDelay is the default of Config.DrainDelay.
const DefaultDrainDelay = 2 * time.Second

// DefaultBBSTimeout is the default of Config.BBSTimeout: short enough that a
// heartbeat stuck on a lost BBS machine moves on to the next BBS within the
// default presence_ttl (15 s), so losing a brain does not make every cell
// absent.
const DefaultBBSTimeout = 10 * time.Second

// DefaultConfig is every default in one place.
func DefaultConfig() Config {
	return Config{
		Zone:                      "z1",
		ListenAddress:             "0.0.0.0:1800",
		AdvertiseURL:              "http://127.0.0.1:1800",
		AdminListenAddress:        "127.0.0.1:1801",
		DebugAddress:              "127.0.0.1:17008",
		BBSURLs:                   []string{"http://127.0.0.1:8889"},
		BBSTimeout:                DefaultBBSTimeout,
		GardenSocket:              "/var/run/diego/garden.sock",
		NATSURLs:                  []string{"nats://127.0.0.1:4222"},
		LogsStream:                natsclient.DefaultLogStreamConfig(),
		PresenceTTL:               15 * time.Second,
		HeartbeatInterval:         5 * time.Second,
		HarmonizeInterval:         30 * time.Second,
		AdoptionRetryInterval:     DefaultAdoptionRetryInterval,
		CreateFailureThreshold:    DefaultCreateFailureThreshold,
		CreateFailureCooldown:     DefaultCreateFailureCooldown,
		DrainDelay:                DefaultDrainDelay,
		EvacuationTimeout:         10 * time.Minute,
		EvacuationPollingInterval: 10 * time.Second,
		RootFSProviders:           models.RootFSProviders{"docker": {}},
		Executor:                  executor.DefaultConfig(),
		LogLevel:                  "info",
	}
}

// Validate says everything that is wrong with a config, each problem naming
// its field.
func (c Config) Validate() error {
	var p config.Problems
	p.Check(c.CellID != "", "cell_id", "is required")
	p.Check(c.PresenceTTL > c.HeartbeatInterval, "presence_ttl", "must be longer than heartbeat_interval")
	p.Positive(map[string]time.Duration{"harmonize_interval": c.HarmonizeInterval,
		"adoption_retry_interval": c.AdoptionRetryInterval, "create_failure_cooldown": c.CreateFailureCooldown,
		"bbs_timeout": c.BBSTimeout})
	p.Check(c.CreateFailureThreshold >= 1, "create_failure_threshold", "must be at least 1")
	p.Check(c.DrainDelay >= 0, "drain_delay", "must not be negative")
	p.Check(len(c.BBSURLs) > 0, "bbs_urls", "is required")
	p.Check(len(c.NATSURLs) > 0, "nats_urls", "is required")
	p.Nest("logs_stream", c.LogsStream.Validate())
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	p.Nest("executor", c.Executor.Validate())
	return p.Err()
}
