// Command auctioneer places LRP instances and tasks on cells (DESIGN 7.1). Run
// several; one holds the "auctioneer" lock and auctions, the others answer 503
// and wait to take over.
package main

import (
	"fmt"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/auctioneer"
	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/transport"
)

// Config is the auctioneer's JSON config file: the auctioneer's own settings
// (listen_address, advertise_url, debug_address, lock_ttl,
// cell_state_timeout, retry_delay, starting_weight, locality_weight,
// max_inflight_starts, tls, log_level; see auctioneer.Config for each default)
// plus how to reach the BBS and etcd.
type Config struct {
	auctioneer.Config
	// BBSURLs are the BBS API servers, tried in turn. Default
	// ["http://127.0.0.1:8889"].
	BBSURLs []string `json:"bbs_urls"`
	// BBSTimeout bounds each call to the BBS. Default "10s".
	BBSTimeout time.Duration `json:"bbs_timeout"`
	// Etcd is where the lock lives. Default endpoints ["http://127.0.0.1:2379"].
	Etcd etcdrunner.ClientConfig `json:"etcd"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{
		Config:     auctioneer.DefaultConfig(),
		BBSURLs:    []string{"http://127.0.0.1:8889"},
		BBSTimeout: 10 * time.Second,
		Etcd:       etcdrunner.ClientConfig{Endpoints: []string{"http://127.0.0.1:2379"}},
	}
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var p config.Problems
	p.Check(len(c.BBSURLs) > 0, "bbs_urls", "is required")
	p.Positive(map[string]time.Duration{"bbs_timeout": c.BBSTimeout})
	p.Check(len(c.Etcd.Endpoints) > 0, "etcd.endpoints", "is required")
	p.Add(c.Config.Validate())
	return p.Err()
}

func main() { daemon.Main("auctioneer", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := DefaultConfig(); return &c }

func run(configPath string) error {
	cfg := DefaultConfig()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("auctioneer", cfg.LogLevel)
	if err != nil {
		return err
	}

	etcd, err := etcdrunner.NewClient(cfg.Etcd)
	if err != nil {
		return err
	}
	defer etcd.Close()
	bbsHTTP, err := transport.NewClient(cfg.TLS, cfg.BBSTimeout)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	daemon, err := auctioneer.New(logger, cfg.Config, auctioneer.Deps{
		BBS:      client.NewClient(bbsHTTP, cfg.BBSURLs...),
		Etcd:     etcd,
		Registry: reg,
	})
	if err != nil {
		return err
	}
	logger.Info("starting", lager.Data{"url": daemon.URL, "listen": daemon.Address, "debug": daemon.DebugAddress})
	process := ifrit.Invoke(sigmon.New(daemon))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}
