package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/server"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
)

func freeAddress() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}

var _ = Describe("cmd/converger", func() {
	It("refuses a config without BBS URLs", func() {
		path := filepath.Join(GinkgoT().TempDir(), "config.json")
		Expect(os.WriteFile(path, []byte(`{"etcd":{"endpoints":["http://127.0.0.1:1"]}}`), 0o644)).To(Succeed())
		session, err := gexec.Start(exec.Command(binPath, "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, 10*time.Second).Should(gexec.Exit(1))
		Expect(session.Err).To(gbytes.Say("bbs_urls is required"))
	})

	It("takes the lock, converges through the BBS, serves /ping and /metrics, and stops on SIGTERM", func() {
		ctx := context.Background()
		logger := lagertest.NewTestLogger("test")
		runner, endpoint := etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(runner.Stop)
		etcd, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(etcd.Close)
		db, err := bbs.New(bbs.Options{Client: etcd, Logger: logger})
		Expect(err).NotTo(HaveOccurred())
		api := httptest.NewServer(server.New(logger, db, server.Options{}))
		DeferCleanup(api.Close)

		Expect(db.UpsertDomain(ctx, logger, "d", 0)).To(Succeed())
		Expect(db.DesireLRP(ctx, logger, &models.DesiredLRP{ProcessGuid: "web", Domain: "d", Instances: 2,
			RootFS: "docker:///library/busybox", MemoryMB: 16, DiskMB: 16,
			Action: &models.Action{Run: &models.RunAction{Path: "/bin/true"}}})).To(Succeed())
		_, err = etcd.Delete(ctx, "/diego/v1/actual/web/1/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())

		debug := freeAddress()
		config, err := json.Marshal(map[string]any{
			"bbs_urls": []string{api.URL}, "etcd": map[string]any{"endpoints": []string{endpoint}},
			"debug_address": debug, "convergence_interval": "200ms", "lock_ttl": "2s",
		})
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "config.json")
		Expect(os.WriteFile(path, config, 0o644)).To(Succeed())
		session, err := gexec.Start(exec.Command(binPath, "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Kill().Wait(5 * time.Second) })

		Eventually(func() error { _, err := lock.Holder(ctx, etcd, "converger"); return err }, 10*time.Second).Should(Succeed())
		Eventually(func() int {
			lrps, err := db.ActualLRPs(ctx, logger, models.ActualLRPFilter{ProcessGuid: "web"})
			Expect(err).NotTo(HaveOccurred())
			return len(lrps)
		}, 10*time.Second).Should(Equal(2))
		Eventually(session.Out, 5*time.Second).Should(gbytes.Say(`converger.converger.pass.converged.*"missing":1`))

		resp, err := http.Get("http://" + debug + "/ping")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		resp, err = http.Get("http://" + debug + "/metrics")
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		Expect(string(body)).To(ContainSubstring(`diego_converger_actions_total{action="missing"} 1`))
		resp.Body.Close()

		session.Signal(syscall.SIGTERM)
		Eventually(session, 10*time.Second).Should(gexec.Exit(0))
		Eventually(func() error { _, err := lock.Holder(ctx, etcd, "converger"); return err }, 5*time.Second).Should(MatchError(lock.ErrNoHolder))
	})
})
