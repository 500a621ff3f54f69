// Command auctioneer places LRP instances and tasks on cells (DESIGN 7.1). Run
// several; one holds the "auctioneer" lock and auctions, the others answer 503
// and wait to take over.
package main

import (
	"fmt"

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
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/transport"
)

func main() { daemon.Main("auctioneer", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := daemonconfig.DefaultAuctioneer(); return &c }

func run(configPath string) error {
	cfg := daemonconfig.DefaultAuctioneer()
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
