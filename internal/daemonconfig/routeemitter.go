package daemonconfig

import (
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/routing/emitter"
)

// RouteEmitter is the route emitter's settings.
type RouteEmitter struct {
	BBSURLs      []string                `json:"bbs_urls"`      // default [http://127.0.0.1:8889]
	BBSTLS       transport.TLS           `json:"bbs_tls"`       // client TLS towards the BBS
	NATSURLs     []string                `json:"nats_urls"`     // members of the NATS cluster, tried in order; default [nats://127.0.0.1:4222]
	NATSTLS      transport.TLS           `json:"nats_tls"`      // certificate naming the emitter to NATS; default none (plain)
	Etcd         etcdrunner.ClientConfig `json:"etcd"`          // for the lock; default 127.0.0.1:2379
	LockTTL      time.Duration           `json:"lock_ttl"`      // default 15 s (lock.DefaultTTL)
	DebugAddress string                  `json:"debug_address"` // default 127.0.0.1:17009
	ID           string                  `json:"id"`            // lock value; default "" (the host name)
	Emitter      emitter.Config          `json:"emitter"`
	BBSTimeout   time.Duration           `json:"bbs_timeout"` // bounds each call to the BBS; default 30 s
	LogLevel     string                  `json:"log_level"`   // debug, info, error or fatal; default "info"
}

// DefaultRouteEmitter returns the defaults of every field.
func DefaultRouteEmitter() RouteEmitter {
	return RouteEmitter{
		BBSURLs:      []string{"http://127.0.0.1:8889"},
		NATSURLs:     []string{"nats://127.0.0.1:4222"},
		Etcd:         etcdrunner.ClientConfig{Endpoints: []string{"http://127.0.0.1:2379"}, DialTimeout: 5 * time.Second},
		LockTTL:      lock.DefaultTTL,
		DebugAddress: "127.0.0.1:17009",
		Emitter:      emitter.DefaultConfig(),
		BBSTimeout:   30 * time.Second,
		LogLevel:     "info",
	}
}

// Validate reports everything that is wrong with the config.
func (c RouteEmitter) Validate() error {
	var p config.Problems
	p.Check(len(c.BBSURLs) > 0, "bbs_urls", "is required")
	p.Check(len(c.NATSURLs) > 0, "nats_urls", "is required")
	p.Check(len(c.Etcd.Endpoints) > 0, "etcd.endpoints", "is required")
	p.Check(c.LockTTL >= time.Second, "lock_ttl", "must be at least 1s")
	p.Positive(map[string]time.Duration{"bbs_timeout": c.BBSTimeout})
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	return p.Err()
}
