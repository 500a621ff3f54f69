package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/rep"
)

// doc is a daemon's config as a JSON object, the form `--set` edits and the
// files are written from.
type doc = map[string]any

// singletons are the daemons that run one active, the rest standby.
var singletons = []string{"auctioneer", "converger", "route-emitter"}

// standbyName names standby k (1-based) of a singleton daemon.
func standbyName(name string, k int) string { return name + "-standby-" + strconv.Itoa(k) }

// daemonConfigs is the config of every daemon of the cluster, keyed by the
// child's name, as JSON objects (config.Encode: durations as strings) built
// from the daemons' typed configs (typedConfigs).
func (c *Cluster) daemonConfigs() map[string]doc {
	docs := map[string]doc{}
	for name, typed := range c.typedConfigs() {
		d, err := toDoc(typed)
		if err != nil {
			// Every typed config encodes; a failure is a programming error.
			panic(fmt.Sprintf("cluster: encoding %s's config: %v", name, err))
		}
		docs[name] = d
	}
	return docs
}

func toDoc(typed any) (doc, error) {
	data, err := config.Encode(typed)
	if err != nil {
		return nil, err
	}
	var d doc
	return d, json.Unmarshal(data, &d)
}

// typedConfigs is every daemon's config: the daemon's defaults with the
// cluster's addresses, ports, certificates and settings on top.
func (c *Cluster) typedConfigs() map[string]any {
	cfg := c.Config
	local := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	scheme := cfg.scheme() // https: every link is mutual TLS unless InsecureLinks
	bbsURL := scheme + "://" + local(cfg.BBSPort)
	natsURLs := []string{c.Addresses.NATS}

	bbs := daemonconfig.DefaultBBS()
	bbs.ListenAddress, bbs.DebugAddress = local(cfg.BBSPort), local(cfg.DebugBasePort+1)
	bbs.Etcd.Endpoints, bbs.Etcd.TLS = []string{c.Addresses.Etcd}, cfg.EtcdTLSFor(certs.Of(certs.RoleBBS))
	bbs.TLS = cfg.TLSFor(certs.Of(certs.RoleBBS))
	bbs.EncryptionKeys, bbs.ActiveKeyLabel = map[string]string{RecordKeyLabel: c.Secrets.RecordKey}, RecordKeyLabel
	bbs.AllowPrivileged = cfg.AllowPrivileged
	bbs.EtcdMaintenanceInterval = DefaultEtcdMaintenanceInterval
	if cfg.EtcdMaintenanceInterval > 0 {
		bbs.EtcdMaintenanceInterval = cfg.EtcdMaintenanceInterval
	}

	auctioneer := daemonconfig.DefaultAuctioneer()
	auctioneer.ListenAddress, auctioneer.AdvertiseURL = local(cfg.AuctioneerPort), scheme+"://"+local(cfg.AuctioneerPort)
	auctioneer.DebugAddress, auctioneer.BBSURLs = local(cfg.DebugBasePort+2), []string{bbsURL}
	auctioneer.Etcd.Endpoints, auctioneer.Etcd.TLS = []string{c.Addresses.Etcd}, cfg.EtcdTLSFor(certs.Of(certs.RoleAuctioneer))
	auctioneer.TLS = cfg.TLSFor(certs.Of(certs.RoleAuctioneer))

	converger := daemonconfig.DefaultConverger()
	converger.BBSURLs, converger.DebugAddress = []string{bbsURL}, local(cfg.DebugBasePort+3)
	converger.Etcd.Endpoints, converger.Etcd.TLS = []string{c.Addresses.Etcd}, cfg.EtcdTLSFor(certs.Of(certs.RoleConverger))
	converger.TLS = cfg.TLSFor(certs.Of(certs.RoleConverger))
	if cfg.ConvergenceInterval > 0 {
		converger.ConvergenceInterval = cfg.ConvergenceInterval
	}
	if cfg.PresenceTTL > 0 {
		// The grace a blipped cell gets to keep its tasks is twice its
		// presence TTL (docs/scheduling.md), as the converger's default is.
		converger.AbsentCellTaskGrace = 2 * cfg.PresenceTTL
	}

	emitter := daemonconfig.DefaultRouteEmitter()
	emitter.BBSURLs, emitter.NATSURLs, emitter.DebugAddress = []string{bbsURL}, natsURLs, local(cfg.DebugBasePort+4)
	emitter.Etcd.Endpoints, emitter.Etcd.TLS = []string{c.Addresses.Etcd}, cfg.EtcdTLSFor(certs.Of(certs.RoleRouteEmitter))
	emitter.BBSTLS = cfg.TLSFor(certs.Of(certs.RoleRouteEmitter))
	emitter.NATSTLS = cfg.TLSFor(certs.Of(certs.RoleRouteEmitter))
	emitter.ID = "route-emitter"

	if cfg.LockTTL > 0 {
		auctioneer.LockTTL, converger.LockTTL, emitter.LockTTL = cfg.LockTTL, cfg.LockTTL, cfg.LockTTL
	}

	router := daemonconfig.DefaultRouter()
	router.ListenAddress, router.NATSURLs, router.DebugAddress = local(cfg.RouterPort), natsURLs, local(cfg.DebugBasePort+5)
	router.NATSTLS = cfg.TLSFor(certs.Of(certs.RoleRouter))
	if cfg.RouterDialTimeout > 0 {
		router.DialTimeout = cfg.RouterDialTimeout
	}
	if cfg.RouterTries > 0 {
		router.Tries = cfg.RouterTries
	}
	if cfg.RouterMaxAttempts > 0 {
		router.MaxAttempts = cfg.RouterMaxAttempts
	}
	if cfg.RouterFailedEndpointHoldoff > 0 {
		router.FailedEndpointHoldoff = cfg.RouterFailedEndpointHoldoff
	}

	receptor := daemonconfig.DefaultReceptor()
	receptor.ListenAddress, receptor.DebugAddress = local(cfg.ReceptorPort), local(cfg.DebugBasePort+6)
	receptor.BBSURLs, receptor.BBSTLS = []string{bbsURL}, cfg.TLSFor(certs.Of(certs.RoleReceptor))
	receptor.NATSURLs, receptor.NATSTLS = natsURLs, cfg.TLSFor(certs.Of(certs.RoleReceptor))
	receptor.Username, receptor.Password = cfg.Username, cfg.Password
	// Callbacks reach neither the cells' containers nor the brain's link.
	receptor.CallbackDenyNetworks = []string{cfg.clusterNetwork()}
	receptor.AllowLoopbackCallbacks = cfg.AllowLoopbackCallbacks
	receptor.CertFile, receptor.KeyFile = c.ReceptorTLS.Cert, c.ReceptorTLS.Key

	configs := map[string]any{"bbs": bbs, "auctioneer": auctioneer, "converger": converger,
		"route-emitter": emitter, "router": router, "receptor": receptor}
	// Standby k is a copy of the active daemon on its own ports, waiting for the lock.
	for k := 1; k <= cfg.Standbys; k++ {
		debug := func(j int) string { return local(cfg.DebugBasePort + 10 + 3*k + j) }
		a := auctioneer
		a.ListenAddress, a.AdvertiseURL = local(cfg.AuctioneerPort+k), scheme+"://"+local(cfg.AuctioneerPort+k)
		a.DebugAddress = debug(0)
		conv := converger
		conv.DebugAddress = debug(1)
		e := emitter
		e.DebugAddress, e.ID = debug(2), standbyName("route-emitter", k)
		configs[standbyName("auctioneer", k)], configs[standbyName("converger", k)], configs[standbyName("route-emitter", k)] = a, conv, e
	}

	for i := 0; i < cfg.Cells; i++ {
		garden, rep := c.cellConfigs(i, scheme, bbsURL)
		cell := cfg.CellLayout(i)
		configs[cell.ID+"-garden"], configs[cell.ID+"-rep"] = &garden, rep
	}
	return configs
}

// cellConfigs are cell i's garden and rep configs.
func (c *Cluster) cellConfigs(i int, scheme, bbsURL string) (daemonconfig.Garden, rep.Config) {
	cfg := c.Config
	cell := cfg.CellLayout(i)
	local := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

	garden := daemonconfig.DefaultGarden()
	garden.SocketPath, garden.DebugAddress, garden.StateDir = cell.GardenSocket, local(cell.GardenDebug), cell.StateDir+"/garden"
	garden.BridgeName, garden.Subnet = cell.Bridge, cell.Subnet
	garden.PortRangeStart, garden.PortRangeEnd = uint32(cell.PortStart), uint32(cell.PortEnd)
	garden.ExternalIP = "127.0.0.1"
	garden.UIDMapStart, garden.UIDRangeCount = uint32(cell.UIDMapStart), CellUIDRanges
	garden.InsecureRegistries = []string{c.Addresses.Registry}
	// oci:/// and docker-archive:/// images are served from the cluster's
	// own images directory only.
	garden.ImageHostPaths = []string{cfg.HostImagesDir()}
	// Every cell's containers and, with isolated cells, the brain's and the
	// cells' link: no container reaches another cell's containers or the
	// control plane through it.
	garden.DenyNetworks = []string{cfg.clusterNetwork()}
	// Stopping the cluster leaves no container, bridge or rule behind.
	garden.DestroyOnExit = true

	r := rep.DefaultConfig()
	r.CellID, r.Zone = cell.ID, cell.Zone
	r.ListenAddress, r.AdvertiseURL = local(cell.RepPort), scheme+"://"+local(cell.RepPort)
	r.AdminListenAddress, r.DebugAddress = local(cell.AdminPort), local(cell.DebugPort)
	r.BBSURLs, r.GardenSocket, r.NATSURLs = []string{bbsURL}, cell.GardenSocket, []string{c.Addresses.NATS}
	r.Executor = cellExecutor(cfg, c.Capacity, cell, "127.0.0.1")
	r.TLS, r.NATSTLS = cfg.TLSFor(certs.Rep(cell.ID)), cfg.TLSFor(certs.Rep(cell.ID))
	if cfg.PresenceTTL > 0 {
		r.PresenceTTL = cfg.PresenceTTL
	}
	if cfg.HeartbeatInterval > 0 {
		r.HeartbeatInterval = cfg.HeartbeatInterval
	}
	if cn := cfg.CellNetworkOf(i); cn.IP != "" {
		// The cell lives at its own address and reaches the brain across its link.
		at := func(port int) string { return cn.IP + ":" + strconv.Itoa(port) }
		brain := func(port int) string { return cfg.HostBridgeIP() + ":" + strconv.Itoa(port) }
		garden.ExternalIP, garden.DebugAddress = cn.IP, at(cell.GardenDebug)
		r.ListenAddress, r.AdvertiseURL = at(cell.RepPort), scheme+"://"+at(cell.RepPort)
		r.AdminListenAddress, r.DebugAddress = at(cell.AdminPort), at(cell.DebugPort)
		r.BBSURLs = []string{scheme + "://" + brain(cfg.BBSPort)}
		r.NATSURLs = []string{"nats://" + brain(cfg.NATSPort)}
		r.Executor = cellExecutor(cfg, c.Capacity, cell, cn.IP)
	}
	return garden, r
}

// cellExecutor is a cell's executor config. A starting instance is polled
// every 500 ms rather than the executor's 2 s default: a TCP connect or GET
// per starting instance costs nothing on one machine, and with the default
// each instance became RUNNING up to 2 s after its process already listened.
// Usage is sampled every 5 s rather than 15 s, so that `diego status` shows a
// new instance's CPU within seconds (300 instances: 60 small NATS messages/s).
//
// Downloads are cached in the cell's own state dir, so one cluster's cache
// does not outlive it or leak into another's, and never come from the
// cluster's own network.
func cellExecutor(cfg Config, capacity CellCapacity, cell Cell, externalIP string) executor.Config {
	e := executor.DefaultConfig()
	e.ExternalIP, e.CellID = externalIP, cell.ID
	e.HealthStartupInterval, e.MetricsInterval = 500*time.Millisecond, 5*time.Second
	e.DownloadCacheDir = cell.StateDir + "/download-cache"
	// The brain and the cells (with isolated cells, reached at their own
	// addresses) are no download source.
	e.DownloadDenyNetworks = []string{cfg.clusterNetwork()}
	e.AllowLoopbackDownloads = cfg.AllowLoopbackDownloads
	if capacity.MemoryMB > 0 {
		e.Capacity = executor.Resources{MemoryMB: capacity.MemoryMB, DiskMB: capacity.DiskMB, Containers: capacity.Containers}
	}
	return e
}
