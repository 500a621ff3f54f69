package main_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/lock"
)

func freeAddress() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}

var _ = Describe("auctioneer", func() {
	const lockTTL = 2 * time.Second
	var (
		endpoint string
		etcd     *clientv3.Client
	)

	BeforeEach(func() {
		var runner *etcdrunner.Runner
		runner, endpoint = etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(runner.Stop)
		var err error
		etcd, err = etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(etcd.Close)
		Expect(etcdrunner.WaitReady(etcd, 10*time.Second)).To(Succeed())
	})

	// start runs an auctioneer against a BBS that is not there: start
	// requests are still queued (202) and retried.
	start := func(name string, extra ...map[string]any) (*gexec.Session, string, string) {
		listen, debug := freeAddress(), freeAddress()
		cfg := map[string]any{
			"listen_address": listen,
			"debug_address":  debug,
			"bbs_urls":       []string{"http://" + freeAddress()},
			"etcd":           map[string]any{"endpoints": []string{endpoint}},
			"lock_ttl":       lockTTL.String(),
		}
		scheme := "http"
		for _, e := range extra {
			for k, v := range e {
				cfg[k] = v
			}
			scheme = "https"
		}
		data, err := json.Marshal(cfg)
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), name+".json")
		Expect(os.WriteFile(path, data, 0o644)).To(Succeed())
		session, err := gexec.Start(exec.Command(binary, "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Kill().Wait(5 * time.Second) })
		return session, scheme + "://" + listen, debug
	}

	holder := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		v, _ := lock.Holder(ctx, etcd, "auctioneer")
		return v
	}

	post := func(url string) int {
		resp, err := http.Post(url+auctioneerapi.LRPAuctionsPath, "application/json",
			strings.NewReader(`[{"process_guid":"app","domain":"d","indices":[0],"memory_mb":64,"rootfs":"docker:///x"}]`))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	It("refuses a config that cannot work, naming every mistake at once", func() {
		path := filepath.Join(GinkgoT().TempDir(), "bad.json")
		Expect(os.WriteFile(path, []byte(`{"lock_ttl": "10ms", "bbs_timeout": "0s", "bbs_urls": []}`), 0o644)).To(Succeed())
		session, err := gexec.Start(exec.Command(binary, "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, 10*time.Second).Should(gexec.Exit(1))
		Expect(session.Err).To(gbytes.Say("bbs_urls is required"))
		Expect(session.Err).To(gbytes.Say("bbs_timeout must be positive"))
		Expect(session.Err).To(gbytes.Say("lock_ttl must be at least 2s"))
	})

	It("refuses a duration written as a millisecond count", func() {
		path := filepath.Join(GinkgoT().TempDir(), "ms.json")
		Expect(os.WriteFile(path, []byte(`{"lock_ttl": 15000}`), 0o644)).To(Succeed())
		session, err := gexec.Start(exec.Command(binary, "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, 10*time.Second).Should(gexec.Exit(1))
		Expect(session.Err).To(gbytes.Say(`lock_ttl: a duration is a string such as "30s"`))
	})

	It("takes the lock, serves /ping, and exits 0 on SIGTERM, releasing the lock", func() {
		session, url, debug := start("solo")
		Eventually(holder, 10*time.Second).Should(Equal(url))
		Eventually(func() int { return post(url) }, 5*time.Second).Should(Equal(http.StatusAccepted))
		resp, err := http.Get("http://" + debug + "/ping")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		session.Signal(syscall.SIGTERM)
		Eventually(session, 15*time.Second).Should(gexec.Exit(0))
		Expect(holder()).To(BeEmpty())
	})

	It("fails over to the standby within the lock TTL when the active one is killed", func() {
		active, activeURL, _ := start("active")
		Eventually(holder, 10*time.Second).Should(Equal(activeURL))
		_, standbyURL, _ := start("standby")
		Eventually(func() int { return post(standbyURL) }, 10*time.Second).Should(Equal(http.StatusServiceUnavailable))
		Expect(post(activeURL)).To(Equal(http.StatusAccepted))

		killed := time.Now()
		active.Signal(syscall.SIGKILL)
		Eventually(active, 5*time.Second).Should(gexec.Exit())
		Eventually(holder, lockTTL+2*time.Second, 50*time.Millisecond).Should(Equal(standbyURL))
		Eventually(func() int { return post(standbyURL) }, time.Second, 20*time.Millisecond).Should(Equal(http.StatusAccepted))
		Expect(time.Since(killed)).To(BeNumerically("<", lockTTL+time.Second))
	})

	It("under mutual TLS, takes auctions from the BBS only", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "certs")
		ids := []certs.Identity{certs.Of(certs.RoleAuctioneer), certs.Of(certs.RoleBBS), certs.Rep("cell-1"), certs.Of(certs.RoleReceptor)}
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		tlsOf := func(id certs.Identity) transport.TLS {
			f := certs.FilesIn(dir, id)
			return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
		}
		_, url, _ := start("tls", map[string]any{"tls": tlsOf(ids[0])})
		Eventually(holder, 10*time.Second).Should(Equal(url))
		postAs := func(id certs.Identity) (int, error) {
			c, err := transport.NewClient(tlsOf(id), 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			resp, err := c.Post(url+auctioneerapi.LRPAuctionsPath, "application/json",
				strings.NewReader(`[{"process_guid":"app","domain":"d","indices":[0],"memory_mb":64,"rootfs":"docker:///x"}]`))
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}
		Eventually(func() (int, error) { return postAs(certs.Of(certs.RoleBBS)) }, 5*time.Second).Should(Equal(http.StatusAccepted))
		Expect(postAs(certs.Rep("cell-1"))).To(Equal(http.StatusForbidden))
		Expect(postAs(certs.Of(certs.RoleReceptor))).To(Equal(http.StatusForbidden))
		Expect(post(url)).To(BeZero(), "plain HTTP gets no answer")
	})
})
