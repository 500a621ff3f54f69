package cluster

import (
	"strconv"

	"github.com/diego-runtime/diego/internal/certs"
)

type doc = map[string]any

// singletons are the daemons that run one active, the rest standby.
var singletons = []string{"auctioneer", "converger", "route-emitter"}

// standbyName names standby k (1-based) of a singleton daemon.
func standbyName(name string, k int) string { return name + "-standby-" + strconv.Itoa(k) }

// daemonConfigs is the config of every daemon of the cluster, keyed by the
// child's name. Only what differs from each daemon's defaults is written.
func (c *Cluster) daemonConfigs() map[string]doc {
	cfg := c.Config
	local := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	scheme := cfg.scheme() // https: every link is mutual TLS unless InsecureLinks
	bbsURL := scheme + "://" + local(cfg.BBSPort)
	// etcd is reached by each daemon with its own certificate.
	etcd := func(role string) doc {
		return doc{"endpoints": []string{c.Addresses.Etcd}, "tls": cfg.EtcdTLSFor(certs.Of(role))}
	}

	configs := map[string]doc{
		"bbs": {
			"listen_address":   local(cfg.BBSPort),
			"debug_address":    local(cfg.DebugBasePort + 1),
			"etcd":             etcd(certs.RoleBBS),
			"tls":              cfg.TLSFor(certs.Of(certs.RoleBBS)),
			"encryption_keys":  map[string]string{RecordKeyLabel: c.Secrets.RecordKey},
			"active_key_label": RecordKeyLabel,
		},
		"auctioneer": {
			"listen_address": local(cfg.AuctioneerPort),
			"advertise_url":  scheme + "://" + local(cfg.AuctioneerPort),
			"debug_address":  local(cfg.DebugBasePort + 2),
			"bbs_urls":       []string{bbsURL},
			"etcd":           etcd(certs.RoleAuctioneer),
			"tls":            cfg.TLSFor(certs.Of(certs.RoleAuctioneer)),
		},
		"converger": {
			"bbs_urls":      []string{bbsURL},
			"etcd":          etcd(certs.RoleConverger),
			"tls":           cfg.TLSFor(certs.Of(certs.RoleConverger)),
			"debug_address": local(cfg.DebugBasePort + 3),
		},
		"route-emitter": {
			"bbs_urls":      []string{bbsURL},
			"nats_url":      c.Addresses.NATS,
			"etcd":          etcd(certs.RoleRouteEmitter),
			"bbs_tls":       cfg.TLSFor(certs.Of(certs.RoleRouteEmitter)),
			"nats_tls":      cfg.TLSFor(certs.Of(certs.RoleRouteEmitter)),
			"debug_address": local(cfg.DebugBasePort + 4),
		},
		"router": {
			"listen_address": local(cfg.RouterPort),
			"nats_urls":      []string{c.Addresses.NATS},
			"nats_tls":       cfg.TLSFor(certs.Of(certs.RoleRouter)),
			"debug_address":  local(cfg.DebugBasePort + 5),
		},
		"receptor": {
			"listen_address": local(cfg.ReceptorPort),
			"debug_address":  local(cfg.DebugBasePort + 6),
			"bbs_urls":       []string{bbsURL},
			"bbs_tls":        cfg.TLSFor(certs.Of(certs.RoleReceptor)),
			"nats_tls":       cfg.TLSFor(certs.Of(certs.RoleReceptor)),
			"nats_url":       c.Addresses.NATS,
			"username":       cfg.Username,
			"password":       cfg.Password,
			// diego ssh: logins with one-time codes from the API (docs/ssh.md).
			"ssh_listen_address": local(cfg.SSHPort),
		},
	}
	// Callbacks reach neither the cells' containers nor the brain's link.
	configs["receptor"]["callback_deny_networks"] = []string{cfg.clusterNetwork()}
	configs["receptor"]["allow_loopback_callbacks"] = cfg.AllowLoopbackCallbacks
	if c.ReceptorTLS.Cert != "" {
		configs["receptor"]["tls_cert_file"], configs["receptor"]["tls_key_file"] = c.ReceptorTLS.Cert, c.ReceptorTLS.Key
	}
	if cfg.AllowPrivileged {
		configs["bbs"]["allow_privileged"] = true
	}
	maintenance := cfg.EtcdMaintenanceInterval
	if maintenance <= 0 {
		maintenance = DefaultEtcdMaintenanceInterval
	}
	configs["bbs"]["etcd_maintenance_interval"] = maintenance.String()
	if cfg.ConvergenceInterval > 0 {
		configs["converger"]["convergence_interval_ms"] = cfg.ConvergenceInterval.Milliseconds()
	}
	if cfg.PresenceTTL > 0 {
		// The grace a blipped cell gets to keep its tasks is twice its
		// presence TTL (docs/scheduling.md), as the converger's default is.
		configs["converger"]["absent_cell_task_grace"] = (2 * cfg.PresenceTTL).String()
	}
	if cfg.RouterDialTimeout > 0 {
		configs["router"]["dial_timeout"] = cfg.RouterDialTimeout.String()
	}
	if cfg.RouterTries > 0 {
		configs["router"]["tries"] = cfg.RouterTries
	}
	if cfg.RouterMaxAttempts > 0 {
		configs["router"]["max_attempts"] = cfg.RouterMaxAttempts
	}
	if cfg.RouterFailedEndpointHoldoff > 0 {
		configs["router"]["failed_endpoint_holdoff"] = cfg.RouterFailedEndpointHoldoff.String()
	}
	if cfg.LockTTL > 0 {
		configs["auctioneer"]["lock_ttl_ms"] = cfg.LockTTL.Milliseconds()
		configs["converger"]["lock_ttl_ms"] = cfg.LockTTL.Milliseconds()
		configs["route-emitter"]["lock_ttl"] = int64(cfg.LockTTL)
	}
	configs["route-emitter"]["id"] = "route-emitter"
	// Standby k is a copy of the active daemon on its own ports, waiting for the lock.
	for k := 1; k <= cfg.Standbys; k++ {
		for j, name := range singletons {
			standby := doc{}
			for key, v := range configs[name] {
				standby[key] = v
			}
			standby["debug_address"] = local(cfg.DebugBasePort + 10 + 3*k + j)
			switch name {
			case "auctioneer":
				standby["listen_address"] = local(cfg.AuctioneerPort + k)
				standby["advertise_url"] = scheme + "://" + local(cfg.AuctioneerPort+k)
			case "route-emitter":
				standby["id"] = standbyName(name, k)
			}
			configs[standbyName(name, k)] = standby
		}
	}

	for i := 0; i < cfg.Cells; i++ {
		cell := cfg.CellLayout(i)
		configs[cell.ID+"-garden"] = doc{
			"socket_path":         cell.GardenSocket,
			"debug_address":       local(cell.GardenDebug),
			"state_dir":           cell.StateDir + "/garden",
			"bridge_name":         cell.Bridge,
			"subnet":              cell.Subnet,
			"port_range_start":    cell.PortStart,
			"port_range_end":      cell.PortEnd,
			"external_ip":         "127.0.0.1",
			"uid_map_start":       cell.UIDMapStart,
			"uid_range_count":     CellUIDRanges,
			"insecure_registries": []string{c.Addresses.Registry},
			// oci:/// and docker-archive:/// images are served from the
			// cluster's own images directory only.
			"image_host_paths": []string{cfg.HostImagesDir()},
			// Every cell's containers and, with isolated cells, the brain's and
			// the cells' link: no container reaches another cell's containers
			// or the control plane through it.
			"deny_networks": []string{cfg.clusterNetwork()},
			// Stopping the cluster leaves no container, bridge or rule behind.
			"destroy_on_exit": true,
		}
		rep := doc{
			"cell_id":              cell.ID,
			"zone":                 cell.Zone,
			"listen_address":       local(cell.RepPort),
			"advertise_url":        scheme + "://" + local(cell.RepPort),
			"admin_listen_address": local(cell.AdminPort),
			"debug_address":        local(cell.DebugPort),
			"bbs_urls":             []string{bbsURL},
			"garden_socket":        cell.GardenSocket,
			"nats_url":             c.Addresses.NATS,
			"executor":             executor(cfg, c.Capacity, cell, "127.0.0.1"),
			"tls":                  cfg.TLSFor(certs.Rep(cell.ID)),
			"nats_tls":             cfg.TLSFor(certs.Rep(cell.ID)),
		}
		if cfg.PresenceTTL > 0 {
			rep["presence_ttl"] = cfg.PresenceTTL.String()
		}
		if cfg.HeartbeatInterval > 0 {
			rep["heartbeat_interval"] = cfg.HeartbeatInterval.String()
		}
		if cn := cfg.CellNetworkOf(i); cn.IP != "" {
			// The cell lives at its own address and reaches the brain across its link.
			at := func(port int) string { return cn.IP + ":" + strconv.Itoa(port) }
			brain := func(port int) string { return cfg.HostBridgeIP() + ":" + strconv.Itoa(port) }
			configs[cell.ID+"-garden"]["external_ip"] = cn.IP
			configs[cell.ID+"-garden"]["debug_address"] = at(cell.GardenDebug)
			rep["listen_address"] = at(cell.RepPort)
			rep["advertise_url"] = scheme + "://" + at(cell.RepPort)
			rep["admin_listen_address"] = at(cell.AdminPort)
			rep["debug_address"] = at(cell.DebugPort)
			rep["bbs_urls"] = []string{scheme + "://" + brain(cfg.BBSPort)}
			rep["nats_url"] = "nats://" + brain(cfg.NATSPort)
			rep["executor"] = executor(cfg, c.Capacity, cell, cn.IP)
		}
		configs[cell.ID+"-rep"] = rep
	}
	return configs
}

// executor is a cell's executor config. A starting instance is polled every
// 500 ms rather than the executor's 2 s default: a TCP connect or GET per
// starting instance costs nothing on one machine, and with the default each
// instance became RUNNING up to 2 s after its process already listened.
// Usage is sampled every 5 s rather than 15 s, so that `diego status` shows a
// new instance's CPU within seconds (300 instances: 60 small NATS messages/s).
//
// Downloads are cached in the cell's own state dir, so one cluster's cache
// does not outlive it or leak into another's, and never come from the
// cluster's own network.
func executor(cfg Config, capacity CellCapacity, cell Cell, externalIP string) doc {
	d := doc{"external_ip": externalIP, "cell_id": cell.ID, "health_startup_interval": "500ms", "metrics_interval": "5s",
		"download_cache_dir": cell.StateDir + "/download-cache",
		// The brain and the cells (with isolated cells, reached at their own
		// addresses) are no download source.
		"download_deny_networks": []string{cfg.clusterNetwork()}}
	if cfg.AllowLoopbackDownloads {
		d["allow_loopback_downloads"] = true
	}
	if capacity.MemoryMB > 0 {
		d["capacity"] = doc{"memory_mb": capacity.MemoryMB, "disk_mb": capacity.DiskMB, "containers": capacity.Containers}
	}
	return d
}
