package daemonconfig

import (
	"time"

	"github.com/diego-runtime/diego/auctioneer"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
)

// Auctioneer is the auctioneer's JSON config file: the auctioneer's own settings
// (listen_address, advertise_url, debug_address, lock_ttl,
// cell_state_timeout, retry_delay, starting_weight, locality_weight,
// max_inflight_starts, tls, log_level; see auctioneer.Config for each default)
// plus how to reach the BBS and etcd.
type Auctioneer struct {
	auctioneer.Config
	// BBSURLs are the BBS API servers, tried in turn. Default
	// ["http://127.0.0.1:8889"].
	BBSURLs []string `json:"bbs_urls"`
	// BBSTimeout bounds each call to the BBS. Default "10s".
	BBSTimeout time.Duration `json:"bbs_timeout"`
	// Etcd is where the lock lives. Default endpoints ["http://127.0.0.1:2379"].
	Etcd etcdrunner.ClientConfig `json:"etcd"`
}

// DefaultAuctioneer returns the defaults of every field.
func DefaultAuctioneer() Auctioneer {
	return Auctioneer{
		Config:     auctioneer.DefaultConfig(),
		BBSURLs:    []string{"http://127.0.0.1:8889"},
		BBSTimeout: 10 * time.Second,
		Etcd:       etcdrunner.ClientConfig{Endpoints: []string{"http://127.0.0.1:2379"}},
	}
}

// Validate reports every problem with the config.
func (c Auctioneer) Validate() error {
	var p config.Problems
	p.Check(len(c.BBSURLs) > 0, "bbs_urls", "is required")
	p.Positive(map[string]time.Duration{"bbs_timeout": c.BBSTimeout})
	p.Check(len(c.Etcd.Endpoints) > 0, "etcd.endpoints", "is required")
	p.Add(c.Config.Validate())
	return p.Err()
}
