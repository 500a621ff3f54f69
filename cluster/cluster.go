// Package cluster runs a whole Diego on one machine for `diego up`: embedded
// etcd and NATS (with JetStream) and a local image registry in this process, and
// every daemon (BBS, receptor, auctioneer, converger, route emitter, router,
// and N cells of garden + rep) as separate OS processes, so that killing a cell
// is a real failure.
package cluster

import (
	"fmt"
	"path/filepath"
	"time"
)

// Config describes the cluster. DefaultConfig has every default.
type Config struct {
	StateDir string // default /var/lib/diego
	BinDir   string // where the daemon binaries are; default: beside the diego binary
	Cells    int    // default 3
	Zones    int    // default 3 (cells are spread over zones round robin)

	// Host ports of the brain (DESIGN 11 defaults).
	ReceptorPort   int // 8887
	SSHPort        int // 2222: the receptor's SSH server (diego ssh)
	BBSPort        int // 8889
	AuctioneerPort int // 9016
	RouterPort     int // 8080
	NATSPort       int // 4222
	EtcdPort       int // 2379
	RegistryPort   int // 5000
	// Debug servers (/ping, /metrics) take ports from DebugBasePort: the brain
	// +1..+9, cell i +100+2i (rep) and +101+2i (garden).
	DebugBasePort int // 17000

	// Cells get rep ports from RepBasePort (two per cell: API and admin) and
	// host port ranges of CellPortRange ports each from CellPortBase.
	RepBasePort   int // 1800
	CellPortBase  int // 61000
	CellPortRange int // 1000
	// NetworkIndex picks the cells' bridge names and subnets (dg<N>c<i>,
	// 10.<200+N>.x.0/22), so two clusters on one machine do not collide. Default 0.
	NetworkIndex int

	// Shortened for demos and tests; zero keeps each daemon's default.
	PresenceTTL         time.Duration
	HeartbeatInterval   time.Duration
	ConvergenceInterval time.Duration

	Username, Password string // receptor basic auth; empty = none
	// TLS serves the receptor over HTTPS with a CA and a certificate made (and
	// kept) under <state>/receptor-tls; see ReceptorTLS. Default false.
	TLS bool
	// AllowLoopbackCallbacks lets task completion callbacks reach this
	// machine's loopback (receivers beside the cluster, as in the e2e suites).
	// Default false: loopback, link-local, this host and the cluster's network
	// are refused.
	AllowLoopbackCallbacks bool

	// Standbys is how many extra auctioneers, convergers and route emitters
	// run beside the active ones, waiting for the lock. Default 0.
	Standbys int
	// LockTTL is the singleton daemons' lock TTL; zero keeps theirs (15 s).
	LockTTL time.Duration
	// RouterDialTimeout and RouterFailedEndpointHoldoff tune how the router
	// gives up on an endpoint; zero keeps the router's (500 ms, 10 s).
	RouterDialTimeout           time.Duration
	RouterFailedEndpointHoldoff time.Duration
	// RouterTries bounds the endpoints the router tries per request; zero
	// keeps the router's (3).
	RouterTries int
	// RouterMaxAttempts bounds every attempt of one request at the router,
	// refused connections included (1: no retry at all); zero keeps the
	// router's (no bound beyond its tries).
	RouterMaxAttempts int

	// IsolateCells runs each cell's garden and rep in its own network
	// namespace behind a veth (see CellNetworkOf), so that a cell can be cut
	// off the network. Default false: cells share the host's network.
	IsolateCells bool
	// Overcommit multiplies the machine's memory and free disk before they are
	// shared out among the cells (DefaultOvercommit when 0). CellMemoryMB and
	// CellDiskMB, when set, are each cell's capacity as given.
	Overcommit   float64
	CellMemoryMB int
	CellDiskMB   int
	// CellContainers is each cell's container capacity: what it offers the
	// auction, its garden's max_containers and its uid ranges. Zero means
	// DefaultCellContainers.
	CellContainers int
	// AllowPrivileged lets apps and tasks ask for privileged containers (root
	// is the host's root). Default false.
	AllowPrivileged bool
	// AllowLoopbackDownloads lets download actions fetch from this machine
	// (file servers of a test on loopback). Default false: downloads from
	// loopback, link-local and the host's addresses are refused.
	AllowLoopbackDownloads bool

	// EtcdQuotaMB is etcd's space quota in MiB; past it etcd refuses writes
	// (NOSPACE) until the BBS has compacted, defragmented and disarmed it.
	// Default 512.
	EtcdQuotaMB int
	// EtcdMaintenanceInterval is how often the BBS looks at etcd's space and
	// compacts; zero keeps DefaultEtcdMaintenanceInterval (2 s, where the
	// BBS's own default is 10 s: one machine's writes fill a small quota fast).
	EtcdMaintenanceInterval time.Duration
	// LogsMaxMB and LogsMaxAge bound the JetStream LOGS stream, which shares
	// the state dir's disk with etcd. Defaults 256 MiB and 24h.
	LogsMaxMB  int
	LogsMaxAge time.Duration

	// InsecureLinks runs every daemon-to-daemon link (BBS, auctioneer, rep,
	// etcd, NATS) in plain text without authentication, for an operator who
	// asks for it (`diego up --insecure-links`). Default false: mutual TLS
	// with certificates kept under CertDir.
	InsecureLinks bool

	// Settings override single fields of the daemons' configs, each
	// "DAEMON.FIELD=JSON" (`diego up --set`): DAEMON is the config's name
	// (router, cell-1-garden, ...) and FIELD may go down into nested objects
	// with dots (executor.health_startup_interval). For tests that need a
	// tuning no other option offers, such as a short prune threshold or a
	// broken runtime on one cell. Default none.
	Settings []string
}

// Space defaults of a cluster on one machine.
const (
	DefaultEtcdQuotaMB             = 512
	DefaultEtcdMaintenanceInterval = 2 * time.Second
	DefaultLogsMaxMB               = 256
	DefaultLogsMaxAge              = 24 * time.Hour
)

// DefaultConfig is every default in one place.
func DefaultConfig() Config {
	return Config{
		StateDir:       "/var/lib/diego",
		Cells:          3,
		Zones:          3,
		ReceptorPort:   8887,
		SSHPort:        2222,
		BBSPort:        8889,
		AuctioneerPort: 9016,
		RouterPort:     8080,
		NATSPort:       4222,
		EtcdPort:       2379,
		RegistryPort:   5000,
		DebugBasePort:  17000,
		RepBasePort:    1800,
		CellPortBase:   61000,
		CellPortRange:  1000,
		EtcdQuotaMB:    DefaultEtcdQuotaMB,
		LogsMaxMB:      DefaultLogsMaxMB,
		LogsMaxAge:     DefaultLogsMaxAge,
	}
}

// ShiftPorts adds offset to every well-known port and moves the cells' host
// port ranges, so a second cluster can run beside the first.
func (c *Config) ShiftPorts(offset int) {
	if offset == 0 {
		return
	}
	for _, p := range []*int{&c.ReceptorPort, &c.SSHPort, &c.BBSPort, &c.AuctioneerPort, &c.RouterPort, &c.NATSPort,
		&c.EtcdPort, &c.RegistryPort, &c.DebugBasePort, &c.RepBasePort} {
		*p += offset
	}
	// Cells' host ports stay clear of the ephemeral range when they can.
	if c.CellPortBase+offset+c.Cells*c.CellPortRange <= 65535 {
		c.CellPortBase += offset
	} else {
		c.CellPortBase = 20000 + offset%10000
	}
	// Different offsets get different bridges and subnets.
	c.NetworkIndex = 1 + (offset/1000)%50
}

// Validate says what is wrong with a config.
func (c Config) Validate() error {
	if c.InsecureLinks && c.IsolateCells {
		return fmt.Errorf("insecure links are for loopback only: they cannot go with isolated cells, which reach the brain across a network link")
	}
	if c.EtcdQuotaMB < 0 || c.LogsMaxMB < 0 || c.LogsMaxAge < 0 || c.EtcdMaintenanceInterval < 0 {
		return fmt.Errorf("etcd quota, logs bounds and the maintenance interval must not be negative")
	}
	if c.Overcommit < 0 || c.CellMemoryMB < 0 || c.CellDiskMB < 0 || c.CellContainers < 0 {
		return fmt.Errorf("overcommit, cell memory, cell disk and cell containers must not be negative")
	}
	if c.Cells < 1 || c.Cells > 60 {
		return fmt.Errorf("cells must be between 1 and 60, not %d", c.Cells)
	}
	if c.Zones < 1 || c.Zones > c.Cells {
		return fmt.Errorf("zones must be between 1 and the number of cells (%d), not %d", c.Cells, c.Zones)
	}
	if c.NetworkIndex < 0 || c.NetworkIndex > 50 {
		return fmt.Errorf("network index must be between 0 and 50, not %d", c.NetworkIndex)
	}
	if !filepath.IsAbs(c.StateDir) {
		return fmt.Errorf("state dir %q must be an absolute path", c.StateDir)
	}
	if c.Standbys < 0 || c.Standbys > 5 {
		return fmt.Errorf("standbys must be between 0 and 5, not %d", c.Standbys)
	}
	if c.CellPortRange < 10 {
		return fmt.Errorf("cells need at least 10 host ports each, not %d", c.CellPortRange)
	}
	if c.CellPortBase+c.Cells*c.CellPortRange > 65535 {
		return fmt.Errorf("%d cells of %d host ports from %d do not fit under 65536", c.Cells, c.CellPortRange, c.CellPortBase)
	}
	return nil
}

// Cell is one cell's share of the machine.
type Cell struct {
	ID           string
	Zone         string
	Bridge       string
	Subnet       string
	PortStart    int
	PortEnd      int
	RepPort      int
	AdminPort    int
	DebugPort    int
	GardenDebug  int
	StateDir     string
	GardenSocket string
	// UIDMapStart is the start of the cell's host uids (and gids): its
	// garden's base range, then one 65536-id range per container
	// (CellContainers of them); cells' spans do not overlap.
	UIDMapStart uint32
}

// CellContainerCount is each cell's container capacity: CellContainers, or
// DefaultCellContainers when that is zero.
func (c Config) CellContainerCount() int {
	if c.CellContainers > 0 {
		return c.CellContainers
	}
	return DefaultCellContainers
}

// HostImagesDir is where the cells' gardens serve oci:/// and
// docker-archive:/// images from (their image_host_paths): StateDir/images.
func (c Config) HostImagesDir() string { return filepath.Join(c.StateDir, "images") }

// CellLayout gives cell i (0-based) its own zone, bridge, subnet, port range,
// rep ports and state directory, so cells never collide.
func (c Config) CellLayout(i int) Cell {
	dir := filepath.Join(c.StateDir, "cells", fmt.Sprintf("cell-%d", i+1))
	return Cell{
		ID:           fmt.Sprintf("cell-%d", i+1),
		Zone:         fmt.Sprintf("z%d", i%c.Zones+1),
		Bridge:       fmt.Sprintf("dg%dc%d", c.NetworkIndex, i+1),
		Subnet:       fmt.Sprintf("10.%d.%d.0/22", 200+c.NetworkIndex, i*4),
		PortStart:    c.CellPortBase + i*c.CellPortRange,
		PortEnd:      c.CellPortBase + (i+1)*c.CellPortRange - 1,
		RepPort:      c.RepBasePort + 2*i,
		AdminPort:    c.RepBasePort + 2*i + 1,
		DebugPort:    c.DebugBasePort + 100 + 2*i,
		GardenDebug:  c.DebugBasePort + 101 + 2*i,
		StateDir:     dir,
		GardenSocket: filepath.Join(dir, "garden.sock"),
		UIDMapStart:  uint32(100000 + i*(c.CellContainerCount()+1)*65536),
	}
}
