package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/spf13/cobra"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/cluster"
)

func newUpCommand(g *Globals) *cobra.Command {
	cfg := cluster.DefaultConfig()
	var verbose bool
	var portOffset int
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a whole Diego cluster on this machine, in the foreground (Ctrl-C stops it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("zones") && cfg.Zones > cfg.Cells {
				cfg.Zones = cfg.Cells // fewer cells than the default zones
			}
			cfg.ShiftPorts(portOffset)
			// The cluster's receptor takes the same credentials the CLI sends.
			cfg.Username, cfg.Password = g.Username, g.Password
			if cfg.BinDir == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				cfg.BinDir = filepath.Dir(exe)
			}
			logger := lager.NewLogger("diego-up")
			level := lager.ERROR
			if verbose {
				level = lager.INFO
			}
			logger.RegisterSink(lager.NewWriterSink(os.Stderr, level))

			c, runner, err := cluster.New(logger, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "starting Diego: %d cells in %d zones, state in %s\n", cfg.Cells, cfg.Zones, cfg.StateDir)
			fmt.Fprintf(out, "  capacity: %s\n", c.Capacity)
			started := time.Now()
			process := ifrit.Background(sigmon.New(runner))
			select {
			case <-process.Ready():
			case err := <-process.Wait():
				return fmt.Errorf("starting the cluster: %w", err)
			}
			fmt.Fprintf(out, "Diego is up (%.1fs)\n", time.Since(started).Seconds())
			fmt.Fprintf(out, "  receptor (API):  %s\n", c.Addresses.Receptor)
			if c.ReceptorTLS.CACert != "" {
				fmt.Fprintf(out, "  receptor CA:     %s  (diego --ca-cert, or DIEGO_CA_CERT)\n", c.ReceptorTLS.CACert)
			}
			fmt.Fprintf(out, "  dashboard:       %s\n", c.Addresses.Dashboard)
			fmt.Fprintf(out, "  ssh:             %s  (diego ssh APP)\n", c.Addresses.SSH)
			fmt.Fprintf(out, "  router:          %s  (apps at http://APP.localhost:%d)\n", c.Addresses.Router, cfg.RouterPort)
			fmt.Fprintf(out, "  image registry:  %s\n", c.Addresses.Registry)
			fmt.Fprintf(out, "  logs:            %s/logs\n", cfg.StateDir)
			fmt.Fprintln(out, "Ctrl-C stops everything.")
			if err := <-process.Wait(); err != nil {
				return fmt.Errorf("cluster stopped: %w", err)
			}
			fmt.Fprintln(out, "Diego stopped.")
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Cells, "cells", cfg.Cells, "number of cells")
	f.IntVar(&cfg.Zones, "zones", cfg.Zones, "number of zones the cells are spread over")
	f.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "where etcd, NATS, the registry and the cells keep their state")
	f.StringVar(&cfg.BinDir, "bin-dir", "", "where the daemon binaries are (default: beside diego)")
	f.DurationVar(&cfg.PresenceTTL, "presence-ttl", 0, "cell presence TTL (default: the rep's, 15s)")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 0, "cell heartbeat interval (default: the rep's, 5s)")
	f.DurationVar(&cfg.ConvergenceInterval, "convergence-interval", 0, "converger interval (default: 30s)")
	f.IntVar(&cfg.RouterMaxAttempts, "router-max-attempts", 0, "attempts the router makes per request, refused connections included (default: the router's, no bound beyond its retries)")
	f.BoolVar(&cfg.IsolateCells, "isolate-cells", false, "run each cell in its own network namespace behind a veth (so a cell can be cut off the network)")
	f.Float64Var(&cfg.Overcommit, "overcommit", cluster.DefaultOvercommit, "share out this many times the machine's memory and free disk among the cells (instances reserve their whole limits but use a fraction)")
	f.IntVar(&cfg.CellMemoryMB, "cell-memory-mb", 0, "each cell's memory capacity in MB (default: derived from the machine and --overcommit)")
	f.IntVar(&cfg.CellContainers, "cell-containers", cluster.DefaultCellContainers, "each cell's container capacity")
	f.IntVar(&cfg.CellDiskMB, "cell-disk-mb", 0, "each cell's disk capacity in MB (default: derived from the machine and --overcommit)")
	f.BoolVar(&cfg.TLS, "tls", false, "serve the receptor over HTTPS with a CA made under the state dir (its path is printed)")
	f.BoolVar(&cfg.AllowLoopbackCallbacks, "allow-loopback-callbacks", false, "let task completion callbacks reach this machine's loopback (receivers beside the cluster)")
	f.BoolVar(&cfg.AllowPrivileged, "allow-privileged", false, "let apps and tasks ask for privileged containers (their root is this machine's root)")
	f.BoolVar(&cfg.AllowLoopbackDownloads, "allow-loopback-downloads", false, "let download actions fetch from this machine's own addresses (for tests whose file servers run here)")
	f.IntVar(&cfg.EtcdQuotaMB, "etcd-quota-mb", cfg.EtcdQuotaMB, "etcd's space quota in MiB (the BBS compacts and defragments within it, and recovers from NOSPACE)")
	f.DurationVar(&cfg.EtcdMaintenanceInterval, "etcd-maintenance-interval", cluster.DefaultEtcdMaintenanceInterval, "how often the BBS checks etcd's space and compacts")
	f.IntVar(&cfg.LogsMaxMB, "logs-max-mb", cfg.LogsMaxMB, "the LOGS stream's size bound in MiB (oldest lines go first)")
	f.DurationVar(&cfg.LogsMaxAge, "logs-max-age", cfg.LogsMaxAge, "how long the LOGS stream keeps a line")
	f.BoolVar(&cfg.InsecureLinks, "insecure-links", false, "run the links between daemons (BBS, auctioneer, reps, etcd, NATS) in plain text without certificates; loopback only, never with --isolate-cells")
	f.StringArrayVar(&cfg.Settings, "set", nil, "override one field of a daemon's config, DAEMON.FIELD=JSON (e.g. router.prune_threshold='\"30s\"'); repeatable; for tests")
	f.IntVar(&portOffset, "port-offset", 0, "add this to every well-known port (to run a second cluster beside the first)")
	f.BoolVar(&verbose, "verbose", false, "log the cluster's own progress")
	return cmd
}
