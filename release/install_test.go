package release_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	bbsclient "github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/release"
)

func freeAddress() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}

// mode is the permission bits of the file at path.
func mode(path string) os.FileMode {
	info, err := os.Stat(path)
	Expect(err).NotTo(HaveOccurred())
	return info.Mode().Perm()
}

func readConfig(path string) map[string]any {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var doc map[string]any
	Expect(json.Unmarshal(data, &doc)).To(Succeed())
	return doc
}

var _ = Describe("installing a job", func() {
	var root, certDir string

	BeforeEach(func() {
		root = GinkgoT().TempDir()
		certDir = filepath.Join(GinkgoT().TempDir(), "certs")
		_, err := certs.WriteSet(certDir, certs.SetOptions{Identities: []certs.Identity{certs.Of(certs.RoleBBS), certs.Rep("cell-1")}})
		Expect(err).NotTo(HaveOccurred())
	})

	install := func(name string, props map[string]any) release.Installed {
		done, err := release.Install(release.InstallOptions{Release: staged, Job: name, Properties: props, Root: root, Certs: certDir})
		Expect(err).NotTo(HaveOccurred())
		return done
	}

	It("lays out the binaries, the checked config, the certificates filling every TLS block, the spec and the unit", func() {
		done := install("bbs", required["bbs"])
		Expect(done.Config).To(Equal("/etc/diego/bbs/config.json"))
		Expect(done.Unit).To(Equal("/etc/systemd/system/diego-bbs.service"))
		Expect(done.Files).To(ConsistOf("/etc/diego/bbs/certs/ca.crt", "/etc/diego/bbs/certs/bbs.crt", "/etc/diego/bbs/certs/bbs.key",
			"/opt/diego/bin/bbs", "/opt/diego/jobs/bbs/spec"))

		Expect(mode(filepath.Join(root, "opt/diego/bin/bbs"))).To(Equal(os.FileMode(0o755)))
		Expect(mode(filepath.Join(root, "etc/diego/bbs/certs/bbs.key"))).To(Equal(os.FileMode(0o600)))
		Expect(mode(filepath.Join(root, "etc/diego/bbs/config.json"))).To(Equal(os.FileMode(0o600)))
		installedCA, err := os.ReadFile(filepath.Join(root, "etc/diego/bbs/certs/ca.crt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.ReadFile(filepath.Join(certDir, "ca.crt"))).To(Equal(installedCA))

		cfg := readConfig(filepath.Join(root, "etc/diego/bbs/config.json"))
		tls := map[string]any{"ca_cert_file": "/etc/diego/bbs/certs/ca.crt", "cert_file": "/etc/diego/bbs/certs/bbs.crt", "key_file": "/etc/diego/bbs/certs/bbs.key"}
		Expect(cfg["tls"]).To(Equal(tls))
		Expect(cfg["etcd"]).To(HaveKeyWithValue("tls", tls))
		Expect(cfg["etcd"]).To(HaveKeyWithValue("endpoints", []any{"https://10.0.0.1:2379"}))

		unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/diego-bbs.service"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(unit)).To(ContainSubstring("ExecStartPre=/opt/diego/bin/bbs -check -config /etc/diego/bbs/config.json\n"))
		Expect(string(unit)).To(ContainSubstring("ExecStart=/opt/diego/bin/bbs -config /etc/diego/bbs/config.json\n"))
		Expect(string(unit)).To(ContainSubstring("Restart=always\n"))
		spec, err := release.ReadSpec(filepath.Join(root, "opt/diego/jobs/bbs/spec"))
		Expect(err).NotTo(HaveOccurred())
		Expect(staged.Spec(job("bbs"))).To(Equal(spec))
	})

	It("keeps the TLS files the properties name", func() {
		props := map[string]any{"tls": map[string]any{"ca_cert_file": "/srv/ca.pem", "cert_file": "/srv/bbs.pem", "key_file": "/srv/bbs-key.pem"}}
		for k, v := range required["bbs"] {
			props[k] = v
		}
		install("bbs", props)
		cfg := readConfig(filepath.Join(root, "etc/diego/bbs/config.json"))
		Expect(cfg["tls"]).To(HaveKeyWithValue("cert_file", "/srv/bbs.pem"))
		Expect(cfg["etcd"]).To(HaveKeyWithValue("tls", HaveKeyWithValue("cert_file", "/etc/diego/bbs/certs/bbs.crt")))
	})

	It("installs the rep with its cell's certificate, a drain script and a unit that drains on stop", func() {
		done := install("rep", map[string]any{"cell_id": "cell-1", "admin_listen_address": "127.0.0.1:2801", "evacuation_timeout": "5m"})
		Expect(done.Scripts).To(ConsistOf("/opt/diego/jobs/rep/bin/drain"))
		Expect(done.Files).To(ContainElement("/etc/diego/rep/certs/rep-cell-1.crt"))
		cfg := readConfig(filepath.Join(root, "etc/diego/rep/config.json"))
		Expect(cfg["nats_tls"]).To(HaveKeyWithValue("cert_file", "/etc/diego/rep/certs/rep-cell-1.crt"))
		Expect(mode(filepath.Join(root, "opt/diego/jobs/rep/bin/drain"))).To(Equal(os.FileMode(0o755)))
		unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/diego-rep.service"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(unit)).To(ContainSubstring("ExecStop=/opt/diego/jobs/rep/bin/drain\n"))
		Expect(string(unit)).To(ContainSubstring("TimeoutStopSec=360\n"), "evacuation_timeout and a minute")
	})

	It("refuses a rep without a cell, whose certificate could name none", func() {
		_, err := release.Install(release.InstallOptions{Release: staged, Job: "rep", Root: root, Certs: certDir})
		Expect(err).To(MatchError(ContainSubstring("set cell_id")))
	})

	It("refuses a job that is not in the release", func() {
		_, err := release.Install(release.InstallOptions{Release: staged, Job: "nats", Root: root})
		Expect(err).To(MatchError(ContainSubstring(`no job "nats"`)))
	})

	Describe("the rep's drain script", func() {
		It("asks the rep to evacuate and returns once the rep has exited", func() {
			var evacuations atomic.Int32
			admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/evacuate" {
					evacuations.Add(1)
					w.WriteHeader(http.StatusAccepted)
					return
				}
				w.WriteHeader(http.StatusNotFound)
			}))
			defer admin.Close()
			install("rep", map[string]any{"cell_id": "cell-1", "admin_listen_address": admin.Listener.Addr().String()})

			// The rep's process: it exits 2 s after the drain began, as a
			// rep does once its cell is empty.
			rep := exec.Command("sleep", "2")
			Expect(rep.Start()).To(Succeed())
			exited := make(chan time.Time, 1)
			go func() { _ = rep.Wait(); exited <- time.Now() }()

			drain := exec.Command(filepath.Join(root, "opt/diego/jobs/rep/bin/drain"), strconv.Itoa(rep.Process.Pid))
			session, err := gexec.Start(drain, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 20*time.Second).Should(gexec.Exit(0))
			returned := time.Now()
			Expect(evacuations.Load()).To(Equal(int32(1)))
			Expect(session.Out).To(gbytes.Say("drain: rep .* is evacuating cell cell-1"))
			Expect(session.Out).To(gbytes.Say("drain: cell cell-1 is drained"))
			var repExited time.Time
			Expect(exited).To(Receive(&repExited))
			Expect(returned).To(BeTemporally(">=", repExited))
		})

		It("fails when the rep's admin address does not answer", func() {
			install("rep", map[string]any{"cell_id": "cell-1", "admin_listen_address": freeAddress()})
			rep := exec.Command("sleep", "30")
			Expect(rep.Start()).To(Succeed())
			defer func() { _ = rep.Process.Kill(); _ = rep.Wait() }()
			session, err := gexec.Start(exec.Command(filepath.Join(root, "opt/diego/jobs/rep/bin/drain"), strconv.Itoa(rep.Process.Pid)), GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 10*time.Second).Should(gexec.Exit(1))
			Expect(session.Err).To(gbytes.Say("cannot reach the rep's admin address"))
		})
	})

	Describe("garden's pre-start", func() {
		It("passes on this machine, which runs the garden suites", func() {
			install("garden", required["garden"])
			session, err := gexec.Start(exec.Command(filepath.Join(root, "opt/diego/jobs/garden/bin/pre-start")), GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 30*time.Second).Should(gexec.Exit(0))
			Expect(session.Out).To(gbytes.Say("ok: kernel"))
			Expect(session.Out).To(gbytes.Say(`ok: cgroup v[12]`))
			Expect(session.Out).To(gbytes.Say("ok: OCI runtime"))
			Expect(session.Out).To(gbytes.Say("this machine can run garden"))
		})

		It("names what is missing", func() {
			install("garden", map[string]any{"state_dir": "/var/lib/diego/garden", "runtime_path": "/nonexistent/runc"})
			session, err := gexec.Start(exec.Command(filepath.Join(root, "opt/diego/jobs/garden/bin/pre-start")), GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 30*time.Second).Should(gexec.Exit(1))
			Expect(session.Err).To(gbytes.Say(`missing: OCI runtime \(/nonexistent/runc`))
			Expect(session.Err).To(gbytes.Say("lacks 1 thing"))
		})
	})
})

var _ = Describe("a rendered config", func() {
	It("starts the bbs, with mutual TLS, against a real etcd", func() {
		etcd, endpoint := etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(etcd.Stop)
		dir := filepath.Join(GinkgoT().TempDir(), "certs")
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: []certs.Identity{certs.Of(certs.RoleBBS), certs.Of(certs.RoleReceptor)}})
		Expect(err).NotTo(HaveOccurred())
		bbs := certs.FilesIn(dir, certs.Of(certs.RoleBBS))
		listen, debug := freeAddress(), freeAddress()
		path := filepath.Join(GinkgoT().TempDir(), "bbs.json")
		_, err = staged.Render(job("bbs"), map[string]any{
			"listen_address":   listen,
			"debug_address":    debug,
			"etcd.endpoints":   []any{endpoint},
			"tls":              map[string]any{"ca_cert_file": bbs.CACert, "cert_file": bbs.Cert, "key_file": bbs.Key},
			"encryption_keys":  map[string]any{"k1": "sixteen or more characters"},
			"active_key_label": "k1",
		}, path)
		Expect(err).NotTo(HaveOccurred())

		session, err := gexec.Start(exec.Command(staged.Binary("bbs"), "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Interrupt().Wait(10 * time.Second) })
		Eventually(func() (int, error) {
			resp, err := http.Get("http://" + debug + "/ping")
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}, 20*time.Second).Should(Equal(http.StatusOK))
		Eventually(session.Out, 10*time.Second).Should(gbytes.Say(`"message":"bbs.starting"`))

		// The API answers only a caller with a certificate of the deployment's CA.
		receptor := certs.FilesIn(dir, certs.Of(certs.RoleReceptor))
		client, err := transport.NewClient(transport.TLS{CACertFile: receptor.CACert, CertFile: receptor.Cert, KeyFile: receptor.Key}, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		resp, err := client.Get("https://" + listen + bbsclient.PingPath)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		_, err = http.Get("https://" + listen + bbsclient.PingPath)
		Expect(err).To(HaveOccurred(), "a caller without a certificate is refused")
	})
})
