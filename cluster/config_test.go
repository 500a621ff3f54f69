package cluster

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemonconfig"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/rep"
	"github.com/diego-runtime/diego/routing/router"
)

var _ = Describe("Config", func() {
	var cfg Config

	BeforeEach(func() {
		cfg = DefaultConfig()
		cfg.StateDir = "/tmp/diego-cluster-test"
	})

	Describe("ShiftPorts", func() {
		It("moves every well-known port and gives the cells their own bridges", func() {
			cfg.ShiftPorts(30000)
			Expect(cfg.ReceptorPort).To(Equal(38887))
			Expect(cfg.RouterPort).To(Equal(38080))
			Expect(cfg.NetworkIndex).To(Equal(31))
			Expect(cfg.CellLayout(0).Bridge).To(Equal("dg31c1"))
			Expect(cfg.Validate()).To(Succeed())
		})

		It("keeps the cells' host ports under 65536 for a large offset", func() {
			cfg.Cells = 10
			cfg.ShiftPorts(40000)
			Expect(cfg.Validate()).To(Succeed())
			Expect(cfg.CellLayout(9).PortEnd).To(BeNumerically("<", 65536))
		})

		It("gives two offsets different networks", func() {
			other := cfg
			cfg.ShiftPorts(30000)
			other.ShiftPorts(40000)
			Expect(cfg.CellLayout(0).Subnet).NotTo(Equal(other.CellLayout(0).Subnet))
		})
	})

	DescribeTable("Validate refuses",
		func(change func(*Config), message string) {
			change(&cfg)
			Expect(cfg.Validate()).To(MatchError(ContainSubstring(message)))
		},
		Entry("no cells", func(c *Config) { c.Cells = 0 }, "cells must be between"),
		Entry("more zones than cells", func(c *Config) { c.Zones = 4 }, "zones must be between"),
		Entry("a relative state dir", func(c *Config) { c.StateDir = "state" }, "absolute path"),
		Entry("too many standbys", func(c *Config) { c.Standbys = 6 }, "standbys"),
		Entry("tiny port ranges", func(c *Config) { c.CellPortRange = 5 }, "host ports each"),
		Entry("a negative overcommit", func(c *Config) { c.Overcommit = -1 }, "must not be negative"),
		Entry("a negative etcd quota", func(c *Config) { c.EtcdQuotaMB = -1 }, "must not be negative"),
		Entry("a negative logs age", func(c *Config) { c.LogsMaxAge = -time.Hour }, "must not be negative"),
	)

	Describe("daemon configs", func() {
		cluster := func(cfg Config) *Cluster {
			return &Cluster{Config: cfg, Addresses: Addresses{NATS: "nats://127.0.0.1:4222", Etcd: "http://127.0.0.1:2379", Registry: "127.0.0.1:5000"}}
		}
		// The daemons' own Config structs, as diego up builds them.
		bbsOf := func(t map[string]any) daemonconfig.BBS { return t["bbs"].(daemonconfig.BBS) }
		auctioneerOf := func(t map[string]any, name string) daemonconfig.Auctioneer { return t[name].(daemonconfig.Auctioneer) }
		convergerOf := func(t map[string]any, name string) daemonconfig.Converger { return t[name].(daemonconfig.Converger) }
		emitterOf := func(t map[string]any, name string) daemonconfig.RouteEmitter {
			return t[name].(daemonconfig.RouteEmitter)
		}
		routerOf := func(t map[string]any) daemonconfig.Router { return t["router"].(daemonconfig.Router) }
		receptorOf := func(t map[string]any) daemonconfig.Receptor { return t["receptor"].(daemonconfig.Receptor) }
		repOf := func(t map[string]any, cell string) rep.Config { return t[cell+"-rep"].(rep.Config) }
		gardenOf := func(t map[string]any, cell string) *daemonconfig.Garden {
			return t[cell+"-garden"].(*daemonconfig.Garden)
		}

		Context("by default", func() {
			It("runs one of each singleton, cells on loopback, and gardens that clean up on exit", func() {
				t := cluster(cfg).typedConfigs()
				Expect(t).NotTo(HaveKey("auctioneer-standby-1"))
				Expect(repOf(t, "cell-1").ListenAddress).To(Equal("127.0.0.1:1800"))
				Expect(gardenOf(t, "cell-1").ExternalIP).To(Equal("127.0.0.1"))
				Expect(gardenOf(t, "cell-1").DestroyOnExit).To(BeTrue())
				Expect(gardenOf(t, "cell-1").ImageHostPaths).To(Equal([]string{"/tmp/diego-cluster-test/images"}),
					"host-path images only from the cluster's own images dir")
				Expect(routerOf(t).DialTimeout).To(Equal(router.DefaultDialTimeout))
				Expect(routerOf(t).MaxAttempts).To(Equal(router.DefaultMaxAttempts))
			})

			It("gives every daemon a config it accepts (gardens look for garden-init on the machine: not here)", func() {
				c := cluster(cfg)
				c.Secrets.RecordKey = "0123456789abcdef0123"
				for name, t := range c.typedConfigs() {
					if strings.HasSuffix(name, "-garden") {
						continue
					}
					v, ok := t.(config.Validator)
					Expect(ok).To(BeTrue(), name)
					Expect(v.Validate()).To(Succeed(), name)
				}
			})

			It("writes the files with durations as Go duration strings", func() {
				docs := cluster(cfg).daemonConfigs()
				Expect(docs["converger"]).To(HaveKeyWithValue("lock_ttl", "15s"))
				Expect(docs["cell-1-rep"]["executor"]).To(HaveKeyWithValue("health_startup_interval", "500ms"))
			})
		})

		Context("space on one machine", func() {
			It("bounds etcd to 512 MiB and the LOGS stream to 256 MiB and 24h, and has the BBS look at etcd's space every 2s", func() {
				Expect(cfg.EtcdQuotaMB).To(Equal(512))
				Expect(cfg.LogsMaxMB).To(Equal(256))
				Expect(cfg.LogsMaxAge).To(Equal(24 * time.Hour))
				Expect(bbsOf(cluster(cfg).typedConfigs()).EtcdMaintenanceInterval).To(Equal(2 * time.Second))
				cfg.EtcdMaintenanceInterval = 500 * time.Millisecond
				Expect(bbsOf(cluster(cfg).typedConfigs()).EtcdMaintenanceInterval).To(Equal(500 * time.Millisecond))
			})
		})

		Context("with the router at one attempt per request", func() {
			It("passes max_attempts to the router", func() {
				cfg.RouterMaxAttempts = 1
				Expect(routerOf(cluster(cfg).typedConfigs()).MaxAttempts).To(Equal(1))
			})
		})

		Context("with a short presence TTL", func() {
			It("gives the converger an absent-cell task grace of two TTLs, and the reps the TTL", func() {
				Expect(convergerOf(cluster(cfg).typedConfigs(), "converger").AbsentCellTaskGrace).To(Equal(converger.DefaultAbsentCellTaskGrace))
				cfg.PresenceTTL = 3 * time.Second
				t := cluster(cfg).typedConfigs()
				Expect(convergerOf(t, "converger").AbsentCellTaskGrace).To(Equal(6 * time.Second))
				Expect(repOf(t, "cell-1").PresenceTTL).To(Equal(3 * time.Second))
			})
		})

		Context("links", func() {
			It("by default, gives every daemon its own role's certificate for every link, over https", func() {
				t := cluster(cfg).typedConfigs()
				certDir := filepath.Join(cfg.StateDir, "certs")
				for name, link := range map[string]struct {
					tls  transport.TLS
					cert string
				}{
					"bbs": {bbsOf(t).TLS, "bbs"}, "auctioneer": {auctioneerOf(t, "auctioneer").TLS, "auctioneer"},
					"converger":     {convergerOf(t, "converger").TLS, "converger"},
					"route-emitter": {emitterOf(t, "route-emitter").BBSTLS, "route-emitter"}, "receptor": {receptorOf(t).BBSTLS, "receptor"},
					"cell-1-rep": {repOf(t, "cell-1").TLS, "rep-cell-1"}, "cell-3-rep": {repOf(t, "cell-3").TLS, "rep-cell-3"},
					// NATS knows each client by its certificate.
					"route-emitter nats": {emitterOf(t, "route-emitter").NATSTLS, "route-emitter"},
					"receptor nats":      {receptorOf(t).NATSTLS, "receptor"}, "router nats": {routerOf(t).NATSTLS, "router"},
					"cell-2-rep nats": {repOf(t, "cell-2").NATSTLS, "rep-cell-2"},
				} {
					Expect(link.tls.CertFile).To(Equal(filepath.Join(certDir, link.cert+".crt")), name)
					Expect(link.tls.KeyFile).To(Equal(filepath.Join(certDir, link.cert+".key")), name)
					Expect(link.tls.CACertFile).To(Equal(filepath.Join(certDir, "ca.crt")), name)
				}
				for name, etcd := range map[string]etcdrunner.ClientConfig{
					"bbs": bbsOf(t).Etcd, "auctioneer": auctioneerOf(t, "auctioneer").Etcd,
					"converger": convergerOf(t, "converger").Etcd, "route-emitter": emitterOf(t, "route-emitter").Etcd,
				} {
					Expect(etcd.TLS).To(Equal(cfg.EtcdTLSFor(certs.Of(name))), name)
					Expect(etcd.TLS.CertFile).NotTo(BeEmpty(), name)
				}
				Expect(receptorOf(t).BBSURLs).To(Equal([]string{"https://127.0.0.1:8889"}))
				Expect(auctioneerOf(t, "auctioneer").AdvertiseURL).To(Equal("https://127.0.0.1:9016"))
				Expect(repOf(t, "cell-1").AdvertiseURL).To(Equal("https://127.0.0.1:1800"))
			})

			It("keeps one CA and a certificate per role and per cell under the state dir, keys 0600, across restarts", func() {
				cfg.StateDir = GinkgoT().TempDir()
				cfg.IsolateCells = true
				Expect(cfg.makeCerts()).To(Succeed())
				ca, err := os.ReadFile(filepath.Join(cfg.CertDir(), "ca.crt"))
				Expect(err).NotTo(HaveOccurred())
				for _, id := range append([]certs.Identity{certs.Of("bbs"), certs.Of("nats"), certs.Of("etcd")}, certs.Rep("cell-1"), certs.Rep("cell-3")) {
					f := certs.FilesIn(cfg.CertDir(), id)
					info, err := os.Stat(f.Key)
					Expect(err).NotTo(HaveOccurred(), id.String())
					Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)), id.String())
					pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
					Expect(err).NotTo(HaveOccurred())
					// Reached across the cells' links: the bridge's and the cells' addresses.
					Expect(pair.Leaf.VerifyHostname("10.200.252.1")).To(Succeed(), id.String())
					Expect(pair.Leaf.VerifyHostname(cfg.CellNetworkOf(2).IP)).To(Succeed(), id.String())
				}
				Expect(cfg.makeCerts()).To(Succeed())
				Expect(os.ReadFile(filepath.Join(cfg.CertDir(), "ca.crt"))).To(Equal(ca))
			})

			It("in plain text only when asked for, and never with isolated cells", func() {
				cfg.InsecureLinks = true
				t := cluster(cfg).typedConfigs()
				Expect(bbsOf(t).TLS.Enabled()).To(BeFalse())
				Expect(repOf(t, "cell-1").TLS.Enabled()).To(BeFalse())
				Expect(receptorOf(t).BBSURLs).To(Equal([]string{"http://127.0.0.1:8889"}))
				cfg.IsolateCells = true
				Expect(cfg.Validate()).To(MatchError(ContainSubstring("loopback only")))
			})
		})

		Context("with standbys and a lock TTL", func() {
			It("gives each standby its own ports and lock identity and every singleton the TTL", func() {
				cfg.Standbys = 1
				cfg.LockTTL = 5 * time.Second
				t := cluster(cfg).typedConfigs()
				Expect(auctioneerOf(t, "auctioneer-standby-1").ListenAddress).To(Equal("127.0.0.1:9017"))
				Expect(auctioneerOf(t, "auctioneer-standby-1").AdvertiseURL).To(Equal("https://127.0.0.1:9017"))
				Expect(emitterOf(t, "route-emitter-standby-1").ID).NotTo(Equal(emitterOf(t, "route-emitter").ID))
				Expect(convergerOf(t, "converger-standby-1").DebugAddress).NotTo(Equal(convergerOf(t, "converger").DebugAddress))
				Expect(auctioneerOf(t, "auctioneer").LockTTL).To(Equal(5 * time.Second))
				Expect(convergerOf(t, "converger-standby-1").LockTTL).To(Equal(5 * time.Second))
				Expect(emitterOf(t, "route-emitter").LockTTL).To(Equal(5 * time.Second))
			})
		})

		Context("with isolated cells", func() {
			It("puts each cell at its own address, reaching the brain through the host bridge", func() {
				cfg.IsolateCells = true
				t := cluster(cfg).typedConfigs()
				cn := cfg.CellNetworkOf(1)
				Expect(cn.IP).To(Equal("10.200.252.11"))
				Expect(gardenOf(t, "cell-2").ExternalIP).To(Equal(cn.IP))
				Expect(repOf(t, "cell-2").AdvertiseURL).To(Equal("https://10.200.252.11:1802"))
				Expect(repOf(t, "cell-2").BBSURLs).To(Equal([]string{"https://10.200.252.1:8889"}))
				Expect(cfg.linkHosts()).To(ContainElements("10.200.252.1", "10.200.252.11"))
				Expect(repOf(t, "cell-2").NATSURLs).To(Equal([]string{"nats://10.200.252.1:4222"}))
			})
		})
	})
})
