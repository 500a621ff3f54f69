package cluster

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
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
		configs := func(cfg Config) map[string]doc {
			c := &Cluster{Config: cfg, Addresses: Addresses{NATS: "nats://127.0.0.1:4222", Etcd: "http://127.0.0.1:2379", Registry: "127.0.0.1:5000"}}
			return c.daemonConfigs()
		}

		Context("by default", func() {
			It("runs one of each singleton, cells on loopback, and gardens that clean up on exit", func() {
				docs := configs(cfg)
				Expect(docs).NotTo(HaveKey("auctioneer-standby-1"))
				Expect(docs["cell-1-rep"]["listen_address"]).To(Equal("127.0.0.1:1800"))
				Expect(docs["cell-1-garden"]["external_ip"]).To(Equal("127.0.0.1"))
				Expect(docs["cell-1-garden"]["destroy_on_exit"]).To(BeTrue())
				Expect(docs["cell-1-garden"]["image_host_paths"]).To(Equal([]string{"/tmp/diego-cluster-test/images"}),
					"host-path images only from the cluster's own images dir")
				Expect(docs["router"]).NotTo(HaveKey("dial_timeout"))
				Expect(docs["router"]).NotTo(HaveKey("max_attempts"))
			})
		})

		Context("space on one machine", func() {
			It("bounds etcd to 512 MiB and the LOGS stream to 256 MiB and 24h, and has the BBS look at etcd's space every 2s", func() {
				Expect(cfg.EtcdQuotaMB).To(Equal(512))
				Expect(cfg.LogsMaxMB).To(Equal(256))
				Expect(cfg.LogsMaxAge).To(Equal(24 * time.Hour))
				Expect(configs(cfg)["bbs"]).To(HaveKeyWithValue("etcd_maintenance_interval", "2s"))
				cfg.EtcdMaintenanceInterval = 500 * time.Millisecond
				Expect(configs(cfg)["bbs"]).To(HaveKeyWithValue("etcd_maintenance_interval", "500ms"))
			})
		})

		Context("with the router at one attempt per request", func() {
			It("passes max_attempts to the router", func() {
				cfg.RouterMaxAttempts = 1
				Expect(configs(cfg)["router"]).To(HaveKeyWithValue("max_attempts", 1))
			})
		})

		Context("with a short presence TTL", func() {
			It("gives the converger an absent-cell task grace of two TTLs, and the reps the TTL", func() {
				Expect(configs(cfg)["converger"]).NotTo(HaveKey("absent_cell_task_grace"))
				cfg.PresenceTTL = 3 * time.Second
				docs := configs(cfg)
				Expect(docs["converger"]).To(HaveKeyWithValue("absent_cell_task_grace", "6s"))
				Expect(docs["cell-1-rep"]).To(HaveKeyWithValue("presence_ttl", "3s"))
			})
		})

		Context("links", func() {
			tlsOf := func(d doc, key string) transport.TLS {
				t, ok := d[key].(transport.TLS)
				Expect(ok).To(BeTrue(), "%s is a TLS block", key)
				return t
			}
			It("by default, gives every daemon its own role's certificate for every link, over https", func() {
				docs := configs(cfg)
				certDir := filepath.Join(cfg.StateDir, "certs")
				for name, want := range map[string]struct{ key, cert string }{
					"bbs": {"tls", "bbs"}, "auctioneer": {"tls", "auctioneer"}, "converger": {"tls", "converger"},
					"route-emitter": {"bbs_tls", "route-emitter"}, "receptor": {"bbs_tls", "receptor"},
					"cell-1-rep": {"tls", "rep-cell-1"}, "cell-3-rep": {"tls", "rep-cell-3"},
				} {
					t := tlsOf(docs[name], want.key)
					Expect(t.CertFile).To(Equal(filepath.Join(certDir, want.cert+".crt")), name)
					Expect(t.KeyFile).To(Equal(filepath.Join(certDir, want.cert+".key")), name)
					Expect(t.CACertFile).To(Equal(filepath.Join(certDir, "ca.crt")), name)
				}
				// NATS knows each client by its certificate.
				for name, want := range map[string]struct{ key, cert string }{
					"route-emitter": {"nats_tls", "route-emitter"}, "receptor": {"nats_tls", "receptor"},
					"router": {"nats_tls", "router"}, "cell-2-rep": {"nats_tls", "rep-cell-2"},
				} {
					t := tlsOf(docs[name], want.key)
					Expect(t.CertFile).To(Equal(filepath.Join(certDir, want.cert+".crt")), name)
					Expect(t.KeyFile).To(Equal(filepath.Join(certDir, want.cert+".key")), name)
					Expect(t.CACertFile).To(Equal(filepath.Join(certDir, "ca.crt")), name)
				}
				for _, name := range []string{"bbs", "auctioneer", "converger", "route-emitter"} {
					etcd := docs[name]["etcd"].(doc)
					Expect(etcd["tls"]).To(Equal(cfg.EtcdTLSFor(certs.Of(name))), name)
					Expect(etcd["tls"].(etcdrunner.ClientTLS).CertFile).NotTo(BeEmpty(), name)
				}
				Expect(docs["receptor"]["bbs_urls"]).To(Equal([]string{"https://127.0.0.1:8889"}))
				Expect(docs["auctioneer"]["advertise_url"]).To(Equal("https://127.0.0.1:9016"))
				Expect(docs["cell-1-rep"]["advertise_url"]).To(Equal("https://127.0.0.1:1800"))
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
				docs := configs(cfg)
				Expect(tlsOf(docs["bbs"], "tls").Enabled()).To(BeFalse())
				Expect(tlsOf(docs["cell-1-rep"], "tls").Enabled()).To(BeFalse())
				Expect(docs["receptor"]["bbs_urls"]).To(Equal([]string{"http://127.0.0.1:8889"}))
				cfg.IsolateCells = true
				Expect(cfg.Validate()).To(MatchError(ContainSubstring("loopback only")))
			})
		})

		Context("with standbys and a lock TTL", func() {
			It("gives each standby its own ports and lock identity and every singleton the TTL", func() {
				cfg.Standbys = 1
				cfg.LockTTL = 5 * time.Second
				docs := configs(cfg)
				Expect(docs["auctioneer-standby-1"]["listen_address"]).To(Equal("127.0.0.1:9017"))
				Expect(docs["auctioneer-standby-1"]["advertise_url"]).To(Equal("https://127.0.0.1:9017"))
				Expect(docs["route-emitter-standby-1"]["id"]).NotTo(Equal(docs["route-emitter"]["id"]))
				Expect(docs["converger-standby-1"]["debug_address"]).NotTo(Equal(docs["converger"]["debug_address"]))
				Expect(docs["auctioneer"]["lock_ttl"]).To(Equal("5s"))
				Expect(docs["converger-standby-1"]["lock_ttl"]).To(Equal("5s"))
				Expect(docs["route-emitter"]["lock_ttl"]).To(Equal("5s"))
			})
		})

		Context("with isolated cells", func() {
			It("puts each cell at its own address, reaching the brain through the host bridge", func() {
				cfg.IsolateCells = true
				docs := configs(cfg)
				cn := cfg.CellNetworkOf(1)
				Expect(cn.IP).To(Equal("10.200.252.11"))
				Expect(docs["cell-2-garden"]["external_ip"]).To(Equal(cn.IP))
				Expect(docs["cell-2-rep"]["advertise_url"]).To(Equal("https://10.200.252.11:1802"))
				Expect(docs["cell-2-rep"]["bbs_urls"]).To(Equal([]string{"https://10.200.252.1:8889"}))
				Expect(cfg.linkHosts()).To(ContainElements("10.200.252.1", "10.200.252.11"))
				Expect(docs["cell-2-rep"]["nats_urls"]).To(Equal([]string{"nats://10.200.252.1:4222"}))
			})
		})
	})
})
