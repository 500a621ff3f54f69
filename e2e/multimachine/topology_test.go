//go:build e2e

package multimachine_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/natsrunner"
)

// Ports every machine uses: each has a network stack of its own.
const (
	etcdPort, etcdPeerPort  = 2379, 2380
	natsPort, natsRoutePort = 4222, 6222
	bbsPort, receptorPort   = 8889, 8887
	auctioneerPort          = 9016
	routerPort              = 8080
	repPort                 = 1800
	// lockTTL is the singletons' lock TTL: their defaults' 15 s.
	lockTTL = 15 * time.Second
)

type props = map[string]any

func brainURLs(scheme string, port int) []string {
	var out []string
	for i := 1; i <= brains; i++ {
		out = append(out, fmt.Sprintf("%s://%s:%d", scheme, brainMachine(i).IP, port))
	}
	return out
}

// localFirst puts machine m's own URL first: a daemon talks to the members
// beside it while they live, and to the others when they do not.
func localFirst(urls []string, m machine) []string {
	out := []string{}
	for _, u := range urls {
		if strings.Contains(u, "//"+m.IP+":") {
			out = append([]string{u}, out...)
		} else {
			out = append(out, u)
		}
	}
	return out
}

func (d *deployment) tlsOf(id certs.Identity) transport.TLS {
	f := certs.FilesIn(d.certs, id)
	return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
}

// etcdMember is brain i's etcd member: https for clients and peers.
func (d *deployment) etcdMember(i int) memberConfig {
	m := brainMachine(i)
	var initial []string
	for j := 1; j <= brains; j++ {
		initial = append(initial, fmt.Sprintf("etcd-%d=https://%s:%d", j, brainMachine(j).IP, etcdPeerPort))
	}
	t := d.tlsOf(certs.Of(certs.RoleEtcd))
	server := etcdrunner.ServerTLS{CACertFile: t.CACertFile, CertFile: t.CertFile, KeyFile: t.KeyFile}
	return memberConfig{Etcd: &etcdrunner.Config{
		Name: fmt.Sprintf("etcd-%d", i), DataDir: filepath.Join(m.Root, "var/etcd"),
		ClientURL: fmt.Sprintf("https://%s:%d", m.IP, etcdPort), PeerURL: fmt.Sprintf("https://%s:%d", m.IP, etcdPeerPort),
		InitialCluster: initial, ClusterToken: "multimachine", TLS: server, PeerTLS: server,
		LogLevel: "warn", StartTimeout: 2 * time.Minute,
	}}
}

// natsNode is brain i's NATS node: TLS with a user per role, a cluster of
// the three brains, the log stream on all three.
func (d *deployment) natsNode(i int) memberConfig {
	m := brainMachine(i)
	var cellIDs []string
	for j := 1; j <= cells; j++ {
		cellIDs = append(cellIDs, cellMachine(j).Name)
	}
	var routes []string
	for j := 1; j <= brains; j++ {
		routes = append(routes, fmt.Sprintf("nats-route://%s:%d", brainMachine(j).IP, natsRoutePort))
	}
	cfg := natsrunner.DefaultConfig()
	cfg.Host, cfg.Port, cfg.StorageDir = m.IP, natsPort, filepath.Join(m.Root, "var/nats")
	cfg.TLS, cfg.Users = d.tlsOf(certs.Of(certs.RoleNATS)), natsrunner.RoleUsers(cellIDs)
	cfg.ServerName, cfg.LogsReplicas, cfg.ReadyTimeout = "nats-"+fmt.Sprint(i), 3, 2*time.Minute
	cfg.Cluster = natsrunner.Cluster{Name: "multimachine", Port: natsRoutePort, Routes: routes}
	return memberConfig{NATS: &cfg}
}

// brainJobs are the properties of brain i's jobs; TLS blocks are left to
// `diego install --certs`.
func brainJobs(i int, recordKey string) []struct {
	job   string
	props props
} {
	m := brainMachine(i)
	at := func(port int) string { return fmt.Sprintf("%s:%d", m.IP, port) }
	etcd := props{"endpoints": localFirst(brainURLs("https", etcdPort), m)}
	bbs := localFirst(brainURLs("https", bbsPort), m)
	nats := localFirst(brainURLs("nats", natsPort), m)
	logs := props{"replicas": 3}
	return []struct {
		job   string
		props props
	}{
		{"bbs", props{"listen_address": at(bbsPort), "etcd": etcd,
			"encryption_keys": props{"multimachine-1": recordKey}, "active_key_label": "multimachine-1"}},
		{"auctioneer", props{"listen_address": at(auctioneerPort), "advertise_url": "https://" + at(auctioneerPort),
			"bbs_urls": bbs, "etcd": etcd}},
		{"converger", props{"bbs_urls": bbs, "etcd": etcd, "convergence_interval": "5s"}},
		{"route-emitter", props{"bbs_urls": bbs, "etcd": etcd, "nats_urls": nats, "id": "route-emitter-" + m.Name}},
		{"router", props{"listen_address": at(routerPort), "nats_urls": nats}},
		{"receptor", props{"listen_address": at(receptorPort), "bbs_urls": bbs, "nats_urls": nats, "logs_stream": logs,
			"allow_anonymous": true, "callback_deny_networks": []string{switchNet}}},
	}
}

// cellJobs are the properties of cell i's garden and rep.
func cellJobs(i int) (garden, rep props) {
	m := cellMachine(i)
	state := filepath.Join(m.Root, "var")
	socket := filepath.Join(state, "garden.sock")
	garden = props{
		"socket_path": socket, "state_dir": filepath.Join(state, "garden"),
		"bridge_name": fmt.Sprintf("mm243c%d", i), "subnet": fmt.Sprintf("10.243.%d.0/22", 16+4*i),
		"external_ip": m.IP, "uid_map_start": uidBase + (i-1)*251*65536, "uid_range_count": 250,
		"image_host_paths": []string{filepath.Join(runDir, "images")},
		"deny_networks":    []string{switchNet}, "destroy_on_exit": true,
	}
	rep = props{
		"cell_id": m.Name, "zone": fmt.Sprintf("z%d", i),
		"listen_address": fmt.Sprintf("%s:%d", m.IP, repPort), "advertise_url": fmt.Sprintf("https://%s:%d", m.IP, repPort),
		"bbs_urls": brainURLs("https", bbsPort), "garden_socket": socket,
		// A call to a BBS whose machine is gone hangs until this timeout
		// before the next BBS is tried: with the default 30 s the cell's
		// presence (TTL 15 s) ran out and the auction saw no cells.
		"bbs_timeout": "4s",
		// Every NATS node, from the cell's "own" brain on: the cells' load
		// spreads over the nodes, and the lost brain's cell moves on.
		"nats_urls": rotate(brainURLs("nats", natsPort), i-1), "logs_stream": props{"replicas": 3},
		"executor": props{"external_ip": m.IP, "cell_id": m.Name, "health_startup_interval": "500ms",
			"download_cache_dir":     filepath.Join(state, "download-cache"),
			"download_deny_networks": []string{switchNet},
			"capacity":               props{"memory_mb": 2048, "disk_mb": 8192, "containers": 50}},
	}
	return garden, rep
}

// rotate starts list at its k-th element.
func rotate(list []string, k int) []string {
	k %= len(list)
	return append(append([]string{}, list[k:]...), list[:k]...)
}
