package receptor_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor"
)

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// taskState is the state of task guid as the API reports it, or "deleted".
func taskStateOf(guid string) string {
	resp := do("GET", "/v1/tasks/"+guid, "")
	if resp.Status == http.StatusNotFound {
		return "deleted"
	}
	return decode[models.Task](resp).State
}

var _ = Describe("The receptor's perimeter", func() {
	// A web page can send these cross-site without a CORS preflight: a form,
	// or fetch with mode no-cors and a string or Blob body.
	DescribeTable("a state-changing request without Content-Type: application/json answers 415 and changes nothing",
		func(method, path, contentType string, setup func(), unchanged func()) {
			if setup != nil {
				setup()
			}
			var body string
			switch {
			case path == "/v1/tasks":
				body = taskJSON("csrf-task", "d")
			case path == "/v1/desired_lrps":
				body = lrpJSON("csrf-lrp", "d", 1)
			case method == "PUT":
				body = `{"instances":5}`
			}
			msg := expectError(do(method, path, body, "Content-Type", contentType), http.StatusUnsupportedMediaType, "UnsupportedMediaType")
			Expect(msg).To(ContainSubstring("application/json"))
			unchanged()
		},
		Entry("a text/plain task", "POST", "/v1/tasks", "text/plain;charset=UTF-8", nil, func() {
			Expect(string(do("GET", "/v1/tasks", "").Body)).To(Equal("[]\n"))
		}),
		Entry("a form-encoded task", "POST", "/v1/tasks", "application/x-www-form-urlencoded", nil, func() {
			Expect(string(do("GET", "/v1/tasks", "").Body)).To(Equal("[]\n"))
		}),
		Entry("a multipart task", "POST", "/v1/tasks", "multipart/form-data; boundary=x", nil, func() {
			Expect(string(do("GET", "/v1/tasks", "").Body)).To(Equal("[]\n"))
		}),
		Entry("a task with no Content-Type (a Blob body)", "POST", "/v1/tasks", "", nil, func() {
			Expect(string(do("GET", "/v1/tasks", "").Body)).To(Equal("[]\n"))
		}),
		Entry("a text/plain LRP", "POST", "/v1/desired_lrps", "text/plain", nil, func() {
			Expect(string(do("GET", "/v1/desired_lrps", "").Body)).To(Equal("[]\n"))
		}),
		Entry("a text/plain cancel", "POST", "/v1/tasks/victim/cancel", "text/plain",
			func() { Expect(do("POST", "/v1/tasks", taskJSON("victim", "d")).Status).To(Equal(http.StatusCreated)) },
			func() { Expect(taskStateOf("victim")).To(Equal(models.TaskStatePending)) }),
		Entry("a text/plain scale", "PUT", "/v1/desired_lrps/victim", "text/plain",
			func() { desire("victim", "d", 1) },
			func() {
				Expect(decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/victim", "")).Instances).To(Equal(1))
			}),
		Entry("a text/plain delete", "DELETE", "/v1/desired_lrps/victim", "text/plain",
			func() { desire("victim", "d", 1) },
			func() { Expect(do("GET", "/v1/desired_lrps/victim", "").Status).To(Equal(http.StatusOK)) }),
	)

	It("takes application/json with parameters", func() {
		resp := do("POST", "/v1/tasks", taskJSON("t", "d"), "Content-Type", "application/json; charset=utf-8")
		Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
	})

	Describe("CORS with any origin allowed", func() {
		BeforeEach(func() {
			opts.CORSOrigins = []string{"*", "https://console.example.com"}
		})

		It("lets any origin read, never with credentials", func() {
			resp := do("GET", "/v1/tasks", "", "Origin", "https://evil.example.com")
			Expect(resp.Header.Get("Access-Control-Allow-Origin")).To(Equal("*"))
			Expect(resp.Header.Values("Access-Control-Allow-Credentials")).To(BeEmpty())

			resp = do("OPTIONS", "/v1/tasks", "", "Origin", "https://evil.example.com",
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "Authorization, Content-Type")
			Expect(resp.Status).To(Equal(http.StatusNoContent))
			Expect(resp.Header.Get("Access-Control-Allow-Origin")).To(Equal("*"))
			Expect(resp.Header.Values("Access-Control-Allow-Credentials")).To(BeEmpty())
		})

		It("gives credentials to a listed origin", func() {
			resp := do("GET", "/v1/tasks", "", "Origin", "https://console.example.com")
			Expect(resp.Header.Get("Access-Control-Allow-Origin")).To(Equal("https://console.example.com"))
			Expect(resp.Header.Get("Access-Control-Allow-Credentials")).To(Equal("true"))
		})
	})

	Describe("an allow list of Host names", func() {
		BeforeEach(func() {
			opts.AllowedHosts = []string{"receptor.example.com", "127.0.0.1"}
		})

		// A DNS rebinding page reaches the receptor under its own name.
		It("refuses a request for another name and changes nothing", func() {
			msg := expectError(do("POST", "/v1/tasks", taskJSON("t", "d"), "Host", "rebind.attacker.example:8887"),
				http.StatusMisdirectedRequest, "HostNotAllowed")
			Expect(msg).To(ContainSubstring("rebind.attacker.example"))
			expectError(do("GET", "/v1/tasks", "", "Host", "rebind.attacker.example"), http.StatusMisdirectedRequest, "HostNotAllowed")
			Expect(string(do("GET", "/v1/tasks", "").Body)).To(Equal("[]\n"))
		})

		It("serves a listed name, with any port and in any case", func() {
			Expect(do("POST", "/v1/tasks", taskJSON("t", "d"), "Host", "Receptor.Example.com:8887").Status).To(Equal(http.StatusCreated))
			Expect(do("GET", "/v1/tasks/t", "").Status).To(Equal(http.StatusOK))
		})
	})

	Describe("the cap on streams per client", func() {
		BeforeEach(func() {
			opts.MaxStreamsPerClient = 2
			opts.Username, opts.Password = "alice", "secret"
			DeferCleanup(func() { opts.Username, opts.Password = "", "" })
		})

		// open starts a stream as user and returns its status; cancel ends it.
		open := func(user, path string) (int, context.CancelFunc) {
			c, cancel := context.WithCancel(context.Background())
			DeferCleanup(cancel)
			req, err := http.NewRequestWithContext(c, "GET", receptorURL+path, nil)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Authorization", basicAuth(user, "secret"))
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			if resp.StatusCode != http.StatusOK {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var e models.Error
				Expect(json.Unmarshal(body, &e)).To(Succeed(), string(body))
				Expect(e.Name).To(Equal("TooManyStreams"))
			}
			return resp.StatusCode, cancel
		}

		It("answers 429 beyond the cap and takes a new stream once one ends", func() {
			status, first := open("alice", "/v1/events")
			Expect(status).To(Equal(http.StatusOK))
			status, _ = open("alice", "/v1/events/tasks")
			Expect(status).To(Equal(http.StatusOK))
			status, _ = open("alice", "/v1/events")
			Expect(status).To(Equal(http.StatusTooManyRequests))
			first()
			Eventually(func() int { s, _ := open("alice", "/v1/events"); return s }, "5s", "100ms").Should(Equal(http.StatusOK))
		})

		It("counts each client on its own", func() {
			for i := 0; i < 2; i++ {
				status, _ := open("alice", "/v1/events")
				Expect(status).To(Equal(http.StatusOK))
			}
			// Requests that are not streams still pass.
			Expect(do("GET", "/v1/tasks", "", "Authorization", basicAuth("alice", "secret")).Status).To(Equal(http.StatusOK))
		})
	})

	Describe("HTTPS", func() {
		It("serves the API over TLS with the configured certificate and not over plain HTTP", func() {
			dir := GinkgoT().TempDir()
			certPEM := selfSigned(dir)
			l, err := receptor.Listen("127.0.0.1:0", receptor.TLSFiles{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")})
			Expect(err).NotTo(HaveOccurred())
			invoke(&transport.Server{Listener: l, Handler: handler, ShutdownTimeout: time.Second})

			pool := x509.NewCertPool()
			Expect(pool.AppendCertsFromPEM(certPEM)).To(BeTrue())
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			resp, err := client.Get("https://" + l.Addr().String() + "/v1/tasks")
			Expect(err).NotTo(HaveOccurred())
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			Expect(string(body)).To(Equal("[]\n"))

			resp, err = http.Get("http://" + l.Addr().String() + "/v1/tasks")
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		})
	})
})

var _ = DescribeTable("A receptor listening beyond loopback without credentials",
	func(address, user, pass string, allowAnonymous bool, problem string) {
		err := receptor.CheckExposure(address, user, pass, allowAnonymous)
		if problem == "" {
			Expect(err).NotTo(HaveOccurred())
			return
		}
		Expect(err).To(MatchError(ContainSubstring(problem)))
	},
	Entry("all addresses", "0.0.0.0:8887", "", "", false, `"0.0.0.0:8887"`),
	Entry("all addresses, short form", ":8887", "", "", false, `":8887"`),
	Entry("all IPv6 addresses", "[::]:8887", "", "", false, `"[::]:8887"`),
	Entry("a routable address", "10.1.2.3:8887", "", "", false, "10.1.2.3"),
	Entry("a host name", "receptor.example.com:8887", "", "", false, "receptor.example.com"),
	Entry("a user without a password", "0.0.0.0:8887", "admin", "", false, "password"),
	Entry("loopback", "127.0.0.1:8887", "", "", false, ""),
	Entry("another loopback address", "127.0.0.9:8887", "", "", false, ""),
	Entry("localhost", "localhost:8887", "", "", false, ""),
	Entry("IPv6 loopback", "[::1]:8887", "", "", false, ""),
	Entry("all addresses with credentials", "0.0.0.0:8887", "admin", "secret", false, ""),
	Entry("all addresses, anonymous by choice", "0.0.0.0:8887", "", "", true, ""),
)

// selfSigned writes cert.pem and key.pem for 127.0.0.1 into dir and returns
// the PEM of the CA that signed them, for clients to trust.
func selfSigned(dir string) []byte {
	ca, err := certs.NewCA("test CA", time.Hour)
	Expect(err).NotTo(HaveOccurred())
	leaf, err := ca.Issue(certs.Of(certs.RoleReceptor), []string{"127.0.0.1"}, time.Hour)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "cert.pem"), leaf.CertPEM, 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "key.pem"), leaf.KeyPEM, 0o600)).To(Succeed())
	return ca.CertPEM()
}
