package main_test

import (
	"context"
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

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
			config := map[string]any{"listen_address": address, "nats_urls": []string{}}
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
			"listen_address": address, "debug_address": freeAddress(), "nats_urls": []string{},
			"bbs_urls": []string{"http://" + freeAddress()}, "bbs_request_timeout": "500ms",
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

	Describe("the LOGS stream on a NATS nobody prepared", func() {
		var (
			natsURLs []string
			js       jetstream.JetStream
		)
		BeforeEach(func() {
			// Two real servers with JetStream and no stream at all; the
			// first listed is down, as a lost cluster member would be.
			s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
				StoreDir: GinkgoT().TempDir(), NoSigs: true, NoLog: true})
			Expect(err).NotTo(HaveOccurred())
			go s.Start()
			Expect(s.ReadyForConnections(10 * time.Second)).To(BeTrue())
			DeferCleanup(func() { s.Shutdown(); s.WaitForShutdown() })
			natsURLs = []string{"nats://" + freeAddress(), s.ClientURL()}
			nc, err := nats.Connect(s.ClientURL())
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(nc.Close)
			js, err = jetstream.New(nc)
			Expect(err).NotTo(HaveOccurred())
		})
		config := func() map[string]any {
			return map[string]any{"listen_address": freeAddress(), "debug_address": freeAddress(),
				"nats_urls": natsURLs, "bbs_urls": []string{"http://" + freeAddress()},
				"logs_stream": map[string]any{"max_msgs_per_subject": 42, "storage": "memory"}}
		}

		It("is created at start with the configured limits", func() {
			session := start(config())
			Eventually(session.Out, 10*time.Second).Should(gbytes.Say(`log-stream.created`))
			stream, err := js.Stream(context.Background(), "LOGS")
			Expect(err).NotTo(HaveOccurred())
			Expect(stream.CachedInfo().Config.Subjects).To(Equal([]string{"logs.>"}))
			Expect(stream.CachedInfo().Config.MaxMsgsPerSubject).To(BeEquivalentTo(42))
			Consistently(session, time.Second).ShouldNot(gexec.Exit())
		})

		It("fails the start, naming the stream, when it exists in a shape that cannot keep log lines", func() {
			_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "LOGS", Subjects: []string{"logs.>"},
				Retention: jetstream.WorkQueuePolicy})
			Expect(err).NotTo(HaveOccurred())
			session := start(config())
			Eventually(session, 15*time.Second).Should(gexec.Exit(1))
			Expect(session.Err).To(gbytes.Say(`JetStream stream LOGS exists but cannot keep log lines: \[retention is`))
		})
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
