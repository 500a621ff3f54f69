package etcdrunner_test

import (
	"context"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
)

var _ = Describe("A member that requires client certificates", func() {
	var (
		runner        *etcdrunner.Runner
		dir, otherDir string
	)
	clientTLS := func(dir string, id certs.Identity) etcdrunner.ClientTLS {
		f := certs.FilesIn(dir, id)
		return etcdrunner.ClientTLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
	}
	// put writes through a client and returns the error of the write.
	put := func(t etcdrunner.ClientTLS) error {
		c, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{runner.Endpoint()}, TLS: t, DialTimeout: 2 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = c.Put(ctx, "/diego/tls-test", "x")
		return err
	}

	BeforeEach(func() {
		ids := []certs.Identity{certs.Of(certs.RoleEtcd), certs.Of(certs.RoleBBS)}
		dir = filepath.Join(GinkgoT().TempDir(), "certs")
		otherDir = filepath.Join(GinkgoT().TempDir(), "other")
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		_, err = certs.WriteSet(otherDir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		f := certs.FilesIn(dir, certs.Of(certs.RoleEtcd))
		runner, err = etcdrunner.New(etcdrunner.Config{
			DataDir: GinkgoT().TempDir(), ClientURL: "https://127.0.0.1:0", UnsafeNoFsync: true, LogLevel: "fatal",
			TLS: etcdrunner.ServerTLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(runner.Start()).To(Succeed())
		DeferCleanup(runner.Stop)
	})

	It("serves a client with a certificate of its CA", func() {
		Expect(put(clientTLS(dir, certs.Of(certs.RoleBBS)))).To(Succeed())
	})

	It("refuses a client without a certificate", func() {
		t := clientTLS(dir, certs.Of(certs.RoleBBS))
		t.CertFile, t.KeyFile = "", ""
		Expect(put(t)).NotTo(Succeed())
	})

	It("refuses a client whose certificate comes from another CA", func() {
		t := clientTLS(otherDir, certs.Of(certs.RoleBBS))
		t.CACertFile = filepath.Join(dir, certs.CACertFile)
		Expect(put(t)).NotTo(Succeed())
	})

	It("refuses plain text", func() {
		Expect(put(etcdrunner.ClientTLS{})).NotTo(Succeed())
	})

	It("will not serve https without a tls block, nor a tls block over http", func() {
		_, err := etcdrunner.New(etcdrunner.Config{DataDir: GinkgoT().TempDir(), ClientURL: "https://127.0.0.1:0"})
		Expect(err).To(MatchError(ContainSubstring("https goes with a tls block")))
	})
})
