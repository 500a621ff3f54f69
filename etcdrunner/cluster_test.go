package etcdrunner_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
)

// freePort is a loopback port nothing listens on now.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var _ = Describe("A member of a three-member cluster with TLS between peers", func() {
	var (
		members  []*etcdrunner.Runner
		dir      string
		bbsTLS   etcdrunner.ClientTLS
		peerURLs []string
	)

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "certs")
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: []certs.Identity{certs.Of(certs.RoleEtcd), certs.Of(certs.RoleBBS)}})
		Expect(err).NotTo(HaveOccurred())
		e, b := certs.FilesIn(dir, certs.Of(certs.RoleEtcd)), certs.FilesIn(dir, certs.Of(certs.RoleBBS))
		serverTLS := etcdrunner.ServerTLS{CACertFile: e.CACert, CertFile: e.Cert, KeyFile: e.Key}
		bbsTLS = etcdrunner.ClientTLS{CACertFile: b.CACert, CertFile: b.Cert, KeyFile: b.Key}
		var initial []string
		peerURLs = nil
		for i := 0; i < 3; i++ {
			peerURLs = append(peerURLs, fmt.Sprintf("https://127.0.0.1:%d", freePort()))
			initial = append(initial, fmt.Sprintf("m%d=%s", i, peerURLs[i]))
		}
		members = nil
		for i := 0; i < 3; i++ {
			r, err := etcdrunner.New(etcdrunner.Config{
				Name: fmt.Sprintf("m%d", i), DataDir: GinkgoT().TempDir(), UnsafeNoFsync: true, LogLevel: "fatal",
				ClientURL: "https://127.0.0.1:0", PeerURL: peerURLs[i], InitialCluster: initial,
				TLS: serverTLS, PeerTLS: serverTLS,
			})
			Expect(err).NotTo(HaveOccurred())
			members = append(members, r)
		}
		startTogether(members)
	})

	client := func(endpoints ...string) *clientv3.Client {
		c, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: endpoints, TLS: bbsTLS, DialTimeout: 2 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		return c
	}

	It("keeps every acknowledged write, and takes writes, when one member is gone", func() {
		var endpoints []string
		for _, m := range members {
			endpoints = append(endpoints, m.Endpoint())
		}
		c := client(endpoints...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := c.Put(ctx, "/diego/before", "1")
		Expect(err).NotTo(HaveOccurred())

		members[0].Stop()
		Eventually(func() error {
			put, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := c.Put(put, "/diego/after", "2")
			return err
		}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
		for _, m := range members[1:] {
			resp, err := client(m.Endpoint()).Get(ctx, "/diego/", clientv3.WithPrefix())
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Kvs).To(HaveLen(2))
		}
	})

	It("refuses a peer config that leaves the member out or mixes https with plain", func() {
		_, err := etcdrunner.New(etcdrunner.Config{Name: "m9", DataDir: GinkgoT().TempDir(),
			PeerURL: "http://127.0.0.1:0", InitialCluster: []string{"m0=" + peerURLs[0]}})
		Expect(err).To(MatchError(ContainSubstring("does not name this member")))
		_, err = etcdrunner.New(etcdrunner.Config{Name: "m0", DataDir: GinkgoT().TempDir(),
			PeerURL: peerURLs[0], InitialCluster: []string{"m0=" + peerURLs[0]}})
		Expect(err).To(MatchError(ContainSubstring("peer_tls")))
	})
})

// startCluster starts three plain members on loopback together and returns
// them with their client endpoints; they stop when the spec ends.
func startCluster() ([]*etcdrunner.Runner, []string) {
	var initial, peers []string
	for i := 0; i < 3; i++ {
		peers = append(peers, fmt.Sprintf("http://127.0.0.1:%d", freePort()))
		initial = append(initial, fmt.Sprintf("p%d=%s", i, peers[i]))
	}
	var members []*etcdrunner.Runner
	var endpoints []string
	for i := 0; i < 3; i++ {
		r, err := etcdrunner.New(etcdrunner.Config{Name: fmt.Sprintf("p%d", i), DataDir: GinkgoT().TempDir(),
			UnsafeNoFsync: true, LogLevel: "fatal", PeerURL: peers[i], InitialCluster: initial})
		Expect(err).NotTo(HaveOccurred())
		members, endpoints = append(members, r), append(endpoints, r.Endpoint())
	}
	startTogether(members)
	return members, endpoints
}

// startTogether starts the members at once (each is ready only once the
// cluster has a leader) and stops them when the spec ends.
func startTogether(members []*etcdrunner.Runner) {
	GinkgoHelper()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, m := range members {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = m.Start() }()
		DeferCleanup(m.Stop)
	}
	wg.Wait()
	for _, err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
}
