package receptor

import (
	"encoding/json"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"

	"github.com/diego-runtime/diego/models"
)

// DefaultMetricsMaxAge is how long an instance's last sample is kept without a
// newer one: past it the instance is taken to be gone.
const DefaultMetricsMaxAge = 2 * time.Minute

// MetricsCache keeps the last two usage samples of every instance, heard on
// the metrics.<metrics_guid> subjects the executors publish on NATS, and hands
// every new sample to the followers of its metrics guid. Two samples give the
// CPU used between them; nothing is stored anywhere else, so a restarted
// receptor knows an instance's usage again after its next two samples.
type MetricsCache struct {
	logger lager.Logger
	clock  clock.Clock
	maxAge time.Duration

	mu        sync.Mutex
	instances map[string]map[string]*samples // metrics guid -> instance guid ->
	followers map[string]map[chan models.ContainerMetrics]struct{}
	swept     time.Time
}

type samples struct{ prev, cur models.ContainerMetrics }

// NewMetricsCache returns an empty cache; maxAge 0 means DefaultMetricsMaxAge.
func NewMetricsCache(logger lager.Logger, clk clock.Clock, maxAge time.Duration) *MetricsCache {
	if maxAge <= 0 {
		maxAge = DefaultMetricsMaxAge
	}
	return &MetricsCache{logger: logger.Session("metrics-cache"), clock: clk, maxAge: maxAge,
		instances: map[string]map[string]*samples{}, followers: map[string]map[chan models.ContainerMetrics]struct{}{}}
}

// Subscribe feeds the cache from every metrics subject on nc.
func (c *MetricsCache) Subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	return nc.Subscribe(models.MetricsSubjectPrefix+">", func(msg *nats.Msg) {
		var m models.ContainerMetrics
		if err := json.Unmarshal(msg.Data, &m); err != nil || m.MetricsGuid == "" || m.InstanceGuid == "" {
			c.logger.Debug("ignoring-malformed-sample", lager.Data{"subject": msg.Subject})
			return
		}
		c.Observe(m)
	})
}

// Observe records one sample and passes it to the guid's followers. A
// follower too slow to take it misses it: the next sample carries the state.
func (c *MetricsCache) Observe(m models.ContainerMetrics) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if now.Sub(c.swept) > c.maxAge {
		c.sweep(now)
	}
	byInstance := c.instances[m.MetricsGuid]
	if byInstance == nil {
		byInstance = map[string]*samples{}
		c.instances[m.MetricsGuid] = byInstance
	}
	s := byInstance[m.InstanceGuid]
	if s == nil {
		s = &samples{}
		byInstance[m.InstanceGuid] = s
	}
	if m.Timestamp <= s.cur.Timestamp {
		return // a duplicate or a late sample
	}
	s.prev, s.cur = s.cur, m
	for ch := range c.followers[m.MetricsGuid] {
		select {
		case ch <- m:
		default:
		}
	}
}

// sweep forgets instances with no sample for maxAge. Called with mu held.
func (c *MetricsCache) sweep(now time.Time) {
	c.swept = now
	for guid, byInstance := range c.instances {
		for instance, s := range byInstance {
			if now.Sub(time.Unix(0, s.cur.Timestamp)) > c.maxAge {
				delete(byInstance, instance)
			}
		}
		if len(byInstance) == 0 {
			delete(c.instances, guid)
		}
	}
}

// Usage fills m from the instance's latest samples and reports whether it
// had any fresh enough.
func (c *MetricsCache) Usage(metricsGuid, instanceGuid string, m *models.InstanceMetrics) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.instances[metricsGuid][instanceGuid]
	if s == nil || c.clock.Now().Sub(time.Unix(0, s.cur.Timestamp)) > c.maxAge {
		return false
	}
	m.Apply(s.prev, s.cur)
	return true
}

// Follow returns a channel of the guid's samples as they arrive with, for
// each, the CPU since the instance's previous one; stop ends it.
func (c *MetricsCache) Follow(metricsGuid string) (<-chan models.InstanceMetrics, func()) {
	raw := make(chan models.ContainerMetrics, 64)
	c.mu.Lock()
	if c.followers[metricsGuid] == nil {
		c.followers[metricsGuid] = map[chan models.ContainerMetrics]struct{}{}
	}
	c.followers[metricsGuid][raw] = struct{}{}
	c.mu.Unlock()

	out := make(chan models.InstanceMetrics, 64)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case m := <-raw:
				var im models.InstanceMetrics
				im.Index, im.InstanceGuid = m.InstanceIndex, m.InstanceGuid
				c.mu.Lock()
				if s := c.instances[metricsGuid][m.InstanceGuid]; s != nil && s.cur.Timestamp == m.Timestamp {
					im.Apply(s.prev, s.cur)
				} else {
					im.Apply(models.ContainerMetrics{}, m)
				}
				c.mu.Unlock()
				select {
				case out <- im:
				case <-done:
					return
				}
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.followers[metricsGuid], raw)
			if len(c.followers[metricsGuid]) == 0 {
				delete(c.followers, metricsGuid)
			}
			c.mu.Unlock()
			close(done)
		})
	}
}
