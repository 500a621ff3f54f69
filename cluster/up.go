package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/natsrunner"
)

// Addresses are what a user of the cluster needs.
type Addresses struct {
	Receptor  string
	SSH       string // the receptor's SSH server (host:port)
	Router    string
	Dashboard string
	Registry  string
	NATS      string
	Etcd      string
}

// Cluster is a planned cluster: its config, its runners and their addresses.
type Cluster struct {
	Config    Config
	Addresses Addresses
	Children  map[string]*Child
	Secrets   Secrets
	// Capacity is what each cell offers (derived in New; zero in configs
	// built without New, which keep the executor's default).
	Capacity CellCapacity
	// ReceptorTLS are the receptor's CA and certificate with Config.TLS; zero without.
	ReceptorTLS ReceptorTLS
}

// New plans the cluster: it checks the machine and the ports, writes every
// daemon's config under the state dir, and builds the runners.
func New(logger lager.Logger, cfg Config) (*Cluster, ifrit.Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if err := Preflight(cfg); err != nil {
		return nil, nil, err
	}
	err := prepareStateDir(cfg)
	if err != nil {
		return nil, nil, err
	}
	c := &Cluster{Config: cfg, Children: map[string]*Child{}}
	if c.Capacity, err = cfg.cellCapacity(); err != nil {
		return nil, nil, err
	}
	local := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	if err := cfg.makeCerts(); err != nil {
		return nil, nil, err
	}
	// diego up's own probes call the daemons as the receptor would.
	probe, err := cfg.LinkClient(certs.Of(certs.RoleReceptor), 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	receptorScheme := "http://"
	if cfg.TLS {
		if c.ReceptorTLS, err = loadReceptorTLS(cfg.StateDir); err != nil {
			return nil, nil, err
		}
		receptorScheme = "https://"
	}
	c.Addresses = Addresses{
		Receptor:  receptorScheme + local(cfg.ReceptorPort),
		SSH:       local(cfg.SSHPort),
		Router:    "http://" + local(cfg.RouterPort),
		Dashboard: receptorScheme + local(cfg.ReceptorPort) + "/",
		Registry:  local(cfg.RegistryPort),
		NATS:      "nats://" + local(cfg.NATSPort),
		Etcd:      cfg.scheme() + "://" + local(cfg.EtcdPort),
	}

	etcdTLS := cfg.TLSFor(certs.Of(certs.RoleEtcd))
	etcd, err := etcdrunner.New(etcdrunner.Config{
		DataDir:   filepath.Join(cfg.StateDir, "etcd"),
		ClientURL: c.Addresses.Etcd,
		PeerURL:   "http://" + local(cfg.EtcdPort+1),
		TLS:       etcdrunner.ServerTLS{CACertFile: etcdTLS.CACertFile, CertFile: etcdTLS.CertFile, KeyFile: etcdTLS.KeyFile},
		// The BBS compacts and defragments within the quota (bbs/maintain).
		QuotaBackendBytes: int64(cfg.EtcdQuotaMB) << 20,
	})
	if err != nil {
		return nil, nil, err
	}
	natsCfg := natsrunner.DefaultConfig()
	natsCfg.Port = cfg.NATSPort
	natsCfg.StorageDir = filepath.Join(cfg.StateDir, "nats")
	if cfg.LogsMaxMB > 0 {
		natsCfg.LogsMaxBytes = int64(cfg.LogsMaxMB) << 20
	}
	if cfg.LogsMaxAge > 0 {
		natsCfg.LogsMaxAge = cfg.LogsMaxAge
	}
	if !cfg.InsecureLinks {
		// TLS, and each client is the user its certificate names, with its subjects.
		natsCfg.TLS = cfg.TLSFor(certs.Of(certs.RoleNATS))
		natsCfg.Users = natsrunner.RoleUsers(cfg.cellIDs())
	}
	nats := natsrunner.New(logger, natsCfg)

	registryDir := filepath.Join(cfg.StateDir, "registry")
	if err := os.MkdirAll(registryDir, 0o755); err != nil {
		return nil, nil, err
	}
	// The registry logs every request: into its own file, not the terminal.
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "logs"), 0o755); err != nil {
		return nil, nil, err
	}
	regLog, err := os.OpenFile(filepath.Join(cfg.StateDir, "logs", "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	reg := &transport.Server{
		Handler: registry.New(registry.WithBlobHandler(registry.NewDiskBlobHandler(registryDir)),
			registry.Logger(log.New(regLog, "", log.LstdFlags))),
		ShutdownTimeout: 5 * time.Second,
	}
	if reg.Listener, err = net.Listen("tcp", c.Addresses.Registry); err != nil {
		return nil, nil, fmt.Errorf("image registry: %w", err)
	}

	configs, err := c.writeConfigs()
	if err != nil {
		return nil, nil, err
	}
	child := func(name, binary string, ready func(context.Context) error) grouper.Member {
		ch := &Child{
			Name: name, Path: filepath.Join(cfg.BinDir, binary), Args: []string{"-config", configs[name]},
			LogPath: filepath.Join(cfg.StateDir, "logs", name+".log"), Ready: ready,
			Exited: func(name string, err error) {
				logger.Error("daemon-exited", err, lager.Data{"daemon": name})
			},
		}
		if binary == "garden" {
			ch.StopTimeout = 2 * time.Minute // it destroys every container first
		}
		c.Children[name] = ch
		return grouper.Member{Name: name, Runner: ch}
	}

	brain := grouper.Members{
		child("bbs", "bbs", httpReady(probe, cfg.scheme()+"://"+local(cfg.BBSPort)+"/ping")),
		child("auctioneer", "auctioneer", nil),
		child("converger", "converger", nil),
		child("route-emitter", "route-emitter", nil),
		child("router", "router", nil),
		child("receptor", "receptor", c.receptorReady()),
	}
	// Standbys start after the actives, so the actives hold the locks.
	for k := 1; k <= cfg.Standbys; k++ {
		for _, name := range singletons {
			brain = append(brain, child(standbyName(name, k), name, nil))
		}
	}
	var cells grouper.Members
	for i := 0; i < cfg.Cells; i++ {
		cell := cfg.CellLayout(i)
		garden := child(cell.ID+"-garden", "garden", socketReady(cell.GardenSocket))
		repAt := local(cell.RepPort)
		rep := child(cell.ID+"-rep", "rep", nil)
		if cn := cfg.CellNetworkOf(i); cn.Namespace != "" {
			// nsenter execs the daemon inside the cell's namespace: same pid, same command line.
			for _, m := range []grouper.Member{garden, rep} {
				ch := m.Runner.(*Child)
				ch.Args = append([]string{"--net=/run/netns/" + cn.Namespace, "--", ch.Path}, ch.Args...)
				ch.Path = "nsenter"
			}
			repAt = cn.IP + ":" + strconv.Itoa(cell.RepPort)
		}
		rep.Runner.(*Child).Ready = httpReady(probe, cfg.scheme()+"://"+repAt+"/ping")
		cells = append(cells,
			grouper.Member{Name: cell.ID, Runner: grouper.NewOrdered(os.Interrupt, grouper.Members{garden, rep})})
	}

	members := grouper.Members{
		{Name: "etcd", Runner: etcd},
		{Name: "nats", Runner: nats},
		{Name: "registry", Runner: reg},
	}
	if cfg.IsolateCells {
		members = append(members, grouper.Member{Name: "cell-networks", Runner: &cellNetworks{logger: logger.Session("cell-networks"), cfg: cfg}})
	}
	members = append(members,
		grouper.Member{Name: "brain", Runner: grouper.NewOrdered(os.Interrupt, brain)},
		grouper.Member{Name: "cells", Runner: grouper.NewParallel(os.Interrupt, cells)},
	)
	runner := grouper.NewOrdered(os.Interrupt, members)
	return c, runner, nil
}

// socketReady wants garden to answer /ping on its unix socket.
func socketReady(path string) func(context.Context) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://garden/ping", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return errors.New("garden answered " + resp.Status)
		}
		return nil
	}
}

// writeConfigs writes one JSON config per daemon and returns their paths.
func (c *Cluster) writeConfigs() (map[string]string, error) {
	dir := filepath.Join(c.Config.StateDir, "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	secrets, err := loadSecrets(c.Config.StateDir)
	if err != nil {
		return nil, err
	}
	c.Secrets = secrets
	docs, err := c.daemonConfigs()
	if err != nil {
		return nil, err
	}
	if err := applySettings(docs, c.Config.Settings); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for name, doc := range docs {
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, name+".json")
		// Configs hold credentials and keys: root only.
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
		if err := os.Chmod(path, 0o600); err != nil { // a file an older version left 0644
			return nil, err
		}
		paths[name] = path
	}
	return paths, nil
}
