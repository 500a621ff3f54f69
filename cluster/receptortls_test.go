package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("The receptor's TLS files", func() {
	var state string

	BeforeEach(func() { state = GinkgoT().TempDir() })

	It("makes a CA and a certificate for loopback, keys readable by root only", func() {
		files, err := loadReceptorTLS(state)
		Expect(err).NotTo(HaveOccurred())
		Expect(files.CACert).To(Equal(filepath.Join(state, "receptor-ca.pem")))
		info, err := os.Stat(files.CACert)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o644)), "the CA certificate is for every client")
		for _, key := range []string{files.Key, filepath.Join(state, "receptor-tls", "ca.key")} {
			info, err := os.Stat(key)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)), key)
		}

		// A server with the certificate is trusted by a client of the CA only.
		pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
		Expect(err).NotTo(HaveOccurred())
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		srv.StartTLS()
		DeferCleanup(srv.Close)
		client, err := files.Client()
		Expect(err).NotTo(HaveOccurred())
		resp, err := client.Get(srv.URL)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}).Get(srv.URL)
		Expect(err).To(HaveOccurred())
	})

	It("reuses them across restarts, and remakes a lost certificate from the same CA", func() {
		first, err := loadReceptorTLS(state)
		Expect(err).NotTo(HaveOccurred())
		ca, _ := os.ReadFile(first.CACert)
		cert, _ := os.ReadFile(first.Cert)

		again, err := loadReceptorTLS(state)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.ReadFile(again.CACert)).To(Equal(ca))
		Expect(os.ReadFile(again.Cert)).To(Equal(cert))

		Expect(os.Remove(first.Cert)).To(Succeed())
		remade, err := loadReceptorTLS(state)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.ReadFile(remade.CACert)).To(Equal(ca))
		Expect(os.ReadFile(remade.Cert)).NotTo(Equal(cert))
	})

	It("goes into the receptor's config with --tls, and callbacks stay off loopback unless allowed", func() {
		cfg := DefaultConfig()
		cfg.StateDir = state
		files, err := loadReceptorTLS(state)
		Expect(err).NotTo(HaveOccurred())
		c := &Cluster{Config: cfg, ReceptorTLS: files}
		docs, err := c.daemonConfigs()
		Expect(err).NotTo(HaveOccurred())
		receptor := docs["receptor"]
		Expect(receptor["tls_cert_file"]).To(Equal(files.Cert))
		Expect(receptor["tls_key_file"]).To(Equal(files.Key))
		Expect(receptor["allow_loopback_callbacks"]).To(BeFalse())
		Expect(receptor["callback_deny_networks"]).To(ContainElement(cfg.clusterNetwork()))

		c = &Cluster{Config: cfg}
		c.Config.AllowLoopbackCallbacks = true
		docs, err = c.daemonConfigs()
		Expect(err).NotTo(HaveOccurred())
		receptor = docs["receptor"]
		Expect(receptor).NotTo(HaveKey("tls_cert_file"))
		Expect(receptor["allow_loopback_callbacks"]).To(BeTrue())
	})
})
