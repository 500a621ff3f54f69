package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
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
			"listen_address": address, "debug_address": freeAddress(), "nats_url": "",
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
// the certificate.
func writeCert(dir string) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "receptor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	Expect(os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)).To(Succeed())
	return certPEM
}
