// Command route-emitter publishes the routing table of the BBS on NATS for HTTP
// routers. One is active at a time (an etcd lock); others wait on standby.
package main

import (
	"fmt"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	bbsclient "github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/natsclient"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/routing/emitter"
)

func main() { daemon.Main("route-emitter", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := daemonconfig.DefaultRouteEmitter(); return &c }

func run(configPath string) error {
	cfg := daemonconfig.DefaultRouteEmitter()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	if cfg.ID == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("id is empty and the host name is unknown: %w", err)
		}
		cfg.ID = host
	}

	logger, err := daemon.NewLogger("route-emitter", cfg.LogLevel)
	if err != nil {
		return err
	}
	clk := clock.NewClock()

	httpClient, err := transport.NewClient(cfg.BBSTLS, cfg.BBSTimeout)
	if err != nil {
		return err
	}
	etcd, err := etcdrunner.NewClient(cfg.Etcd)
	if err != nil {
		return err
	}
	defer etcd.Close()
	// A NATS server cut off without closing the connection is noticed
	// within about a minute (pings every 20 s, two unanswered), as the
	// router does, and the emitter moves to another member: with the
	// client's default (2 min pings) its publications sat in a dead
	// connection's TCP backoff and reached routers up to a minute after
	// NATS was back.
	conn, err := natsclient.Connect(logger, natsclient.Options{Name: "route-emitter", URLs: cfg.NATSURLs, TLS: cfg.NATSTLS,
		PingInterval: natsPingInterval, MaxPingsOutstanding: 2})
	if err != nil {
		return err
	}
	defer conn.Close()
	debug, err := debugserver.New(cfg.DebugAddress, nil)
	if err != nil {
		return err
	}

	members := grouper.Members{
		{Name: "debug", Runner: debug},
		// Only the lock holder publishes; on losing the lock it steps down
		// and campaigns again instead of exiting (lock.Standby).
		{Name: "emitter", Runner: &lock.Standby{
			Lock: lock.Runner{Logger: logger, Client: etcd, Name: "route-emitter", Value: cfg.ID, TTL: cfg.LockTTL},
			Active: &emitter.Emitter{
				Logger: logger, BBS: bbsclient.NewClient(httpClient, cfg.BBSURLs...), NATS: conn, Clock: clk, Config: cfg.Emitter,
			},
		}},
	}
	process := ifrit.Invoke(sigmon.New(grouper.NewOrdered(os.Interrupt, members)))
	err = <-process.Wait()
	if err != nil {
		logger.Error("exited", err)
	}
	return err
}

// natsPingInterval is how often the emitter pings NATS (the router's too).
const natsPingInterval = 20 * time.Second
