package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/executor/downloadcache"
	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/internal/netguard"
	"github.com/diego-runtime/diego/models"
)

// Garden is the part of garden's client the executor uses.
type Garden interface {
	Ping(ctx context.Context) error
	Create(ctx context.Context, spec garden.ContainerSpec) (garden.ContainerInfo, error)
	Destroy(ctx context.Context, handle string) error
	List(ctx context.Context, properties map[string]string) ([]string, error)
	Info(ctx context.Context, handle string) (garden.ContainerInfo, error)
	Metrics(ctx context.Context, handle string) (garden.Metrics, error)
	StreamIn(ctx context.Context, handle, dstPath string, tar io.Reader) error
	StreamOut(ctx context.Context, handle, srcPath string, w io.Writer) error
	Run(ctx context.Context, handle string, spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error)
	Attach(ctx context.Context, handle, processID string, pio garden.ProcessIO) (garden.Process, error)
	Stop(ctx context.Context, handle string, grace time.Duration) error
}

// Config holds the executor's settings; DefaultConfig has every default.
type Config struct {
	CellID   string    `json:"cell_id"`
	Capacity Resources `json:"capacity"` // default: 8192 MB, 65536 MB disk, 250 containers
	// ExternalIP is the cell's address, announced as CF_INSTANCE_IP and the
	// instance's address. Default 127.0.0.1.
	ExternalIP string `json:"external_ip"`
	// GracePeriod is the time between SIGTERM and SIGKILL. Default 10 s.
	GracePeriod time.Duration `json:"grace_period"`
	// Health timing (DESIGN 8.3); defaults 2 s, 30 s, 1 s, 60 s.
	HealthStartupInterval  time.Duration `json:"health_startup_interval"`
	HealthLivenessInterval time.Duration `json:"health_liveness_interval"`
	HealthAttemptTimeout   time.Duration `json:"health_attempt_timeout"`
	DefaultStartTimeout    time.Duration `json:"default_start_timeout"`
	// ReservationTimeout drops a reservation that was never run. Default 1 min.
	ReservationTimeout time.Duration `json:"reservation_timeout"`
	// MetricsInterval is how often container metrics are published. Default 15 s.
	MetricsInterval time.Duration `json:"metrics_interval"`
	// DownloadCacheDir is where downloads with a cache_key are kept, in a
	// subdirectory named after the cell id (so cells sharing a machine never
	// share one). Default /var/lib/diego/download-cache.
	DownloadCacheDir string `json:"download_cache_dir"`
	// DownloadCacheMaxBytes bounds the cache; the least recently used entries
	// go first. 0 turns caching off. Default 10 GiB.
	DownloadCacheMaxBytes int64 `json:"download_cache_max_bytes"`
	// DownloadDenyNetworks are addresses or CIDRs download actions may not
	// fetch from, on top of loopback, link-local (cloud metadata), 0.0.0.0/8
	// and this host's own addresses, which are always refused. Checked after
	// DNS and on every redirect; no proxy from the environment is used.
	// Default none: list the control plane's networks.
	DownloadDenyNetworks []string `json:"download_deny_networks"`
	// AllowLoopbackDownloads lets download actions fetch from loopback and
	// this host's addresses (development and test clusters whose file
	// servers run on the same machine). Default false.
	AllowLoopbackDownloads bool `json:"allow_loopback_downloads"`
}

// Validate says what is wrong with the config.
func (c Config) Validate() error {
	_, err := c.downloadGuard()
	return err
}

// downloadGuard is the deny list download actions are checked against.
func (c Config) downloadGuard() (netguard.DenyList, error) {
	if c.AllowLoopbackDownloads {
		return netguard.Parse(append([]string{"169.254.0.0/16", "fe80::/10", "0.0.0.0/8"}, c.DownloadDenyNetworks...)...)
	}
	d, err := netguard.New(c.DownloadDenyNetworks...)
	if err != nil {
		return d, fmt.Errorf("download_deny_networks: %w", err)
	}
	return d.WithHostAddresses()
}

// DefaultConfig is every default in one place.
func DefaultConfig() Config {
	return Config{
		Capacity:               Resources{MemoryMB: 8192, DiskMB: 65536, Containers: 250},
		ExternalIP:             "127.0.0.1",
		GracePeriod:            10 * time.Second,
		HealthStartupInterval:  2 * time.Second,
		HealthLivenessInterval: 30 * time.Second,
		HealthAttemptTimeout:   time.Second,
		DefaultStartTimeout:    60 * time.Second,
		ReservationTimeout:     time.Minute,
		MetricsInterval:        15 * time.Second,
		DownloadCacheDir:       "/var/lib/diego/download-cache",
		DownloadCacheMaxBytes:  10 << 30,
	}
}

// Property names the executor stores on garden containers, so that a restarted
// rep can adopt them.
const (
	PropertyOwner = "executor:owner"
	PropertyState = "executor:container"
)

// Executor runs one cell's containers.
type Executor struct {
	cfg     Config
	garden  Garden
	logs    *logstream.Emitter
	metrics Publisher
	clock   clock.Clock
	logger  lager.Logger
	http    *http.Client
	cache   steps.Cache // nil when caching is off

	// mu guards containers, remaining, subscribers and dropped.
	mu          sync.Mutex
	containers  map[string]*entry
	remaining   Resources
	subscribers map[chan Event]*subscription
	dropped     uint64 // events dropped for slow subscribers, ever

	usage usageTable // the last samples of each running container (usage.go)
}

// subscription is one subscriber's state.
type subscription struct {
	lagged bool // an event was dropped; EventLagged has not been delivered yet
}

// subscriberBuffer is how many events a subscriber may fall behind before
// events are dropped for it (and it is told with EventLagged).
const subscriberBuffer = 1024

// Publisher sends container metrics (a *nats.Conn).
type Publisher interface {
	Publish(subject string, data []byte) error
}

type entry struct {
	Container
	cancel context.CancelFunc // stops the running work
	done   chan struct{}      // closed when the work has ended
}

// New returns an executor over garden. logs and metrics may share one NATS connection.
func New(logger lager.Logger, cfg Config, g Garden, logs *logstream.Emitter, metrics Publisher, clk clock.Clock) *Executor {
	e := &Executor{
		cfg:         cfg,
		garden:      g,
		logs:        logs,
		metrics:     metrics,
		clock:       clk,
		logger:      logger.Session("executor"),
		containers:  map[string]*entry{},
		remaining:   cfg.Capacity,
		subscribers: map[chan Event]*subscription{},
	}
	guard, err := cfg.downloadGuard()
	if err != nil {
		// Validate refuses such a config at start; fail closed all the same.
		e.logger.Error("download-guard-failed-denying-every-download", err)
		guard, _ = netguard.Parse("0.0.0.0/0", "::/0")
	}
	e.http = guard.HTTPClient(10 * time.Minute)
	if cfg.DownloadCacheDir != "" && cfg.DownloadCacheMaxBytes > 0 {
		e.cache = downloadcache.New(e.logger, filepath.Join(cfg.DownloadCacheDir, cfg.CellID), cfg.DownloadCacheMaxBytes)
	}
	return e
}

// TotalResources is the cell's capacity.
func (e *Executor) TotalResources() Resources { return e.cfg.Capacity }

// RemainingResources is what is left after every container the executor holds.
func (e *Executor) RemainingResources() Resources {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.remaining
}

// Healthy reports whether garden answers.
func (e *Executor) Healthy(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return e.garden.Ping(ctx) == nil
}

// Allocate reserves room for each allocation it can fit, in order, and returns
// the ones it could not (for lack of resources or a duplicate guid).
func (e *Executor) Allocate(allocs []Allocation) []Allocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	var failed []Allocation
	for _, a := range allocs {
		if _, exists := e.containers[a.Guid]; exists || !e.remaining.fits(a.Resource) {
			failed = append(failed, a)
			continue
		}
		e.remaining.add(a.Resource, -1)
		e.containers[a.Guid] = &entry{Container: Container{
			Guid: a.Guid, Kind: a.Kind, State: StateReserved, Resource: a.Resource,
			Tags: a.Tags, ReservedAt: e.clock.Now(),
		}}
	}
	return failed
}

// Containers lists every container, sorted by guid.
func (e *Executor) Containers() []Container {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Container, 0, len(e.containers))
	for _, c := range e.containers {
		out = append(out, c.Container)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Guid < out[j].Guid })
	return out
}

// Get returns one container.
func (e *Executor) Get(guid string) (Container, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[guid]
	if !ok {
		return Container{}, false
	}
	return c.Container, true
}

// Subscribe returns a channel of events and a function that ends the
// subscription. A subscriber that falls more than 1024 events behind loses
// events; it then receives EventLagged before its next event and must re-read
// Containers() (the rep harmonises).
func (e *Executor) Subscribe() (<-chan Event, func()) {
	return e.subscribe(subscriberBuffer)
}

func (e *Executor) subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	e.mu.Lock()
	e.subscribers[ch] = &subscription{}
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if _, ok := e.subscribers[ch]; ok {
			delete(e.subscribers, ch)
			close(ch)
		}
	}
}

// DroppedEvents is how many events were dropped for slow subscribers since
// the executor started.
func (e *Executor) DroppedEvents() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dropped
}

// emit must be called with mu held. A subscriber whose buffer is full loses
// the event and is marked lagged; the next event that finds room is preceded
// by EventLagged, so the subscriber knows to re-read the containers.
func (e *Executor) emit(eventType string, c Container) {
	for ch, sub := range e.subscribers {
		if sub.lagged {
			select {
			case ch <- Event{Type: EventLagged}:
				sub.lagged = false
			default:
				e.dropped++
				e.logger.Info("event-dropped-slow-subscriber", lager.Data{"guid": c.Guid, "type": eventType, "dropped": e.dropped})
				continue
			}
		}
		select {
		case ch <- Event{Type: eventType, Container: c}:
		default:
			sub.lagged = true
			e.dropped++
			e.logger.Error("event-dropped-slow-subscriber", nil, lager.Data{"guid": c.Guid, "type": eventType, "dropped": e.dropped})
		}
	}
}

// update changes a container under the lock and optionally emits an event.
func (e *Executor) update(guid, eventType string, change func(*Container)) (Container, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[guid]
	if !ok {
		return Container{}, false
	}
	change(&c.Container)
	if eventType != "" {
		e.emit(eventType, c.Container)
	}
	return c.Container, true
}

// Run starts a reserved container's work in the background.
func (e *Executor) Run(req RunRequest) error {
	e.mu.Lock()
	c, ok := e.containers[req.Guid]
	if !ok {
		e.mu.Unlock()
		return fmt.Errorf("running %s: %w", req.Guid, ErrNotReserved)
	}
	if c.State != StateReserved {
		e.mu.Unlock()
		return fmt.Errorf("running %s: %w (it is %s)", req.Guid, ErrNotReserved, c.State)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.done = make(chan struct{})
	c.State = StateInitializing
	c.Run = &req
	e.mu.Unlock()

	go e.lifecycle(ctx, req, c.Container, c.done)
	return nil
}

// Stop ends a container's work (SIGTERM, then SIGKILL after the grace period);
// it completes with Stopped set. A reserved container is completed at once.
func (e *Executor) Stop(guid string) error {
	e.mu.Lock()
	c, ok := e.containers[guid]
	if !ok {
		e.mu.Unlock()
		return fmt.Errorf("stopping %s: %w", guid, ErrNotFound)
	}
	if c.State == StateReserved {
		c.State = StateCompleted
		c.RunResult = RunResult{Stopped: true}
		e.emit(EventCompleted, c.Container)
		e.mu.Unlock()
		return nil
	}
	cancel := c.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return nil
}

// Delete stops a container if needed, destroys it in garden and frees its
// resources. Deleting an unknown guid is not an error.
func (e *Executor) Delete(ctx context.Context, guid string) error {
	e.mu.Lock()
	c, ok := e.containers[guid]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	if c.cancel != nil {
		c.cancel()
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.State != StateReserved {
		if err := e.garden.Destroy(ctx, guid); err != nil && !isNotFound(err) {
			return fmt.Errorf("destroying %s: %w", guid, err)
		}
	}
	e.mu.Lock()
	if _, still := e.containers[guid]; still {
		delete(e.containers, guid)
		e.remaining.add(c.Resource, +1)
	}
	e.mu.Unlock()
	return nil
}

// Errors at the executor's edge.
var (
	ErrNotFound    = errors.New("container not found")
	ErrNotReserved = errors.New("container is not reserved")
)

func isNotFound(err error) bool { return errors.Is(err, garden.ErrContainerNotFound) }

// Instance reads the ActualLRP key of an LRP container from its tags.
func (c Container) Instance() (models.ActualLRPKey, models.ActualLRPInstanceKey) {
	if c.Run != nil {
		return models.ActualLRPKey{ProcessGuid: c.Run.ProcessGuid, Index: c.Run.Index, Domain: c.Run.Domain},
			models.ActualLRPInstanceKey{InstanceGuid: c.Guid}
	}
	return models.ActualLRPKey{}, models.ActualLRPInstanceKey{InstanceGuid: c.Guid}
}
