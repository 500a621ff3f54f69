// Command bbs serves the BBS API over etcd. Run several against one etcd; all
// are active.
package main

import (
	"context"
	"fmt"
	"os"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/encryption"
	"github.com/diego-runtime/diego/bbs/maintain"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
)

func main() { daemon.Main("bbs", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := daemonconfig.DefaultBBS(); return &c }

func run(configPath string) error {
	cfg := daemonconfig.DefaultBBS()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("bbs", cfg.LogLevel)
	if err != nil {
		return err
	}

	keys, err := encryption.New(cfg.EncryptionKeys, cfg.ActiveKeyLabel)
	if err != nil {
		return err
	}
	etcd, err := etcdrunner.NewClient(cfg.Etcd)
	if err != nil {
		return err
	}
	defer etcd.Close()
	callTimeout, requestTimeout := cfg.CallTimeout, cfg.RequestTimeout
	httpClient, err := transport.NewClient(cfg.TLS, callTimeout)
	if err != nil {
		return err
	}
	db, err := bbs.New(bbs.Options{
		Client: etcd,
		Logger: logger,
		Auctioneer: &auctioneerapi.Client{HTTP: httpClient, Locate: func(ctx context.Context) (string, error) {
			return lock.Holder(ctx, etcd, cfg.AuctioneerLockName)
		}},
		RepClients:      bbs.HTTPRepClients{HTTP: httpClient, Scheme: cfg.TLS.Scheme()},
		RequestTimeout:  requestTimeout,
		CallTimeout:     callTimeout,
		Keys:            keys,
		MaxInstances:    cfg.MaxInstances,
		AllowPrivileged: cfg.AllowPrivileged,
	})
	if err != nil {
		return err
	}

	handler := server.New(logger, db, server.Options{RequestTimeout: requestTimeout, Registerer: prometheus.DefaultRegisterer})
	api, err := transport.NewLinkServer(cfg.TLS, cfg.ListenAddress, handler)
	if err != nil {
		return err
	}
	debug, err := transport.NewServer(transport.TLS{}, cfg.DebugAddress, debugserver.Handler(nil))
	if err != nil {
		return err
	}
	maintainer, err := maintain.New(maintain.Options{
		Client: etcd, KeepRevisions: cfg.EtcdKeepRevisions, RequestTimeout: requestTimeout,
		Registerer: prometheus.DefaultRegisterer,
	})
	if err != nil {
		return err
	}
	space := &maintain.Runner{Maintainer: maintainer, Logger: logger, Clock: clock.NewClock(), Interval: cfg.EtcdMaintenanceInterval}
	host, err := os.Hostname()
	if err != nil {
		logger.Error("reading-hostname-failed", err)
		host = "bbs"
	}
	logger.Info("starting", lager.Data{"listen_address": api.Addr(), "debug_address": debug.Addr()})
	group := grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "debug-server", Runner: debug},
		{Name: "api-server", Runner: api},
		{Name: "event-streams", Runner: handler}, // stops first, ending open streams
		// Rewrites records to the active key, then purges their old values from etcd.
		{Name: "record-rewriter", Runner: bbs.NewRecordRewriter(db, maintainer, logger, clock.NewClock())},
		{Name: "etcd-space", Runner: space},
		{Name: "etcd-maintenance-lock", Runner: &lock.Standby{
			Lock: lock.Runner{Logger: logger, Client: etcd, Name: maintain.LockName,
				Value: host + " " + api.Addr(), TTL: cfg.EtcdMaintenanceLockTTL},
			Active: space.Tenure(),
		}},
	})
	process := ifrit.Invoke(sigmon.New(group))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}
