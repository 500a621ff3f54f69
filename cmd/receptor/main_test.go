package main_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-runtime/diego/internal/certs"
)

func freeAddress() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}

func start(config map[string]any) *gexec.Session {
	data, err := json.Marshal(config)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "config.json")
	Expect(os.WriteFile(path, data, 0o600)).To(Succeed())
	session, err := gexec.Start(exec.Command(binPath, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Interrupt().Wait(10 * time.Second) })
	return session
}

var _ = Describe("cmd/receptor", func() {
	DescribeTable("refuses to listen beyond loopback without credentials",
		func(address string, extra map[string]any) {
			config := map[string]any{"listen_address": address, "nats_url": ""}
			for k, v := range extra {
				config[k] = v
			}
			session := start(config)
			Eventually(session, 10*time.Second).Should(gexec.Exit(1))
			Expect(session.Err).To(gbytes.Say(`listen_address "` + strings.ReplaceAll(address, "[", `\[`) + `" is reachable beyond this machine`))
		},
		Entry("the default, all addresses", ":8887", nil),
		Entry("all addresses", "0.0.0.0:8887", nil),
		Entry("a user without a password", "0.0.0.0:8887", map[string]any{"username": "admin"}),
	)

	It("serves HTTPS with the configured certificate, and refuses a text/plain POST", func() {
		dir := GinkgoT().TempDir()
		ca := writeCert(dir)
		address := freeAddress()
		start(map[string]any{
			"listen_address": address, "debug_address": freeAddress(), "nats_url": "", "ssh_listen_address": "127.0.0.1:0",
			"bbs_urls": []string{"http://" + freeAddress()}, "bbs_request_timeout_ms": 500,
			"tls_cert_file": filepath.Join(dir, "cert.pem"), "tls_key_file": filepath.Join(dir, "key.pem"),
		})
		pool := x509.NewCertPool()
		Expect(pool.AppendCertsFromPEM(ca)).To(BeTrue())
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		Eventually(func() (int, error) {
			resp, err := client.Get("https://" + address + "/ping")
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}, 10*time.Second).Should(Equal(http.StatusOK))

		resp, err := client.Post("https://"+address+"/v1/tasks", "text/plain", strings.NewReader(`{"task_guid":"t"}`))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusUnsupportedMediaType))

		_, err = (&http.Client{Timeout: 5 * time.Second}).Get("https://" + address + "/ping")
		Expect(err).To(HaveOccurred(), "a client that does not trust the certificate")
	})
})

// writeCert writes cert.pem and key.pem for 127.0.0.1 into dir and returns
// the PEM of the CA that signed them, for clients to trust.
func writeCert(dir string) []byte {
	ca, err := certs.NewCA("test CA", time.Hour)
	Expect(err).NotTo(HaveOccurred())
	leaf, err := ca.Issue(certs.Of(certs.RoleReceptor), []string{"127.0.0.1"}, time.Hour)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "cert.pem"), leaf.CertPEM, 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "key.pem"), leaf.KeyPEM, 0o600)).To(Succeed())
	return ca.CertPEM()
}
