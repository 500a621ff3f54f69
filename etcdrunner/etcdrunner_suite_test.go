package etcdrunner_test

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/etcdrunner"
)

func TestEtcdrunner(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Etcdrunner Suite")
}

var _ = Describe("Runner", func() {
	It("serves clients, and keeps its data across a stop and a start on the same ports", func() {
		runner, endpoint := etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(runner.Stop)
		Expect(endpoint).To(MatchRegexp(`^http://127\.0\.0\.1:\d+$`))
		c, err := runner.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		ctx := context.Background()
		_, err = c.Put(ctx, "/k", "v")
		Expect(err).NotTo(HaveOccurred())

		runner.Stop()
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_, err = c.Get(short, "/k")
		Expect(err).To(HaveOccurred())

		Expect(runner.Start()).To(Succeed())
		Expect(runner.Endpoint()).To(Equal(endpoint))
		Eventually(func() (string, error) {
			get, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			resp, err := c.Get(get, "/k")
			if err != nil || len(resp.Kvs) == 0 {
				return "", err
			}
			return string(resp.Kvs[0].Value), nil
		}, 15*time.Second, 100*time.Millisecond).Should(Equal("v"))
		Expect(runner.Start()).To(MatchError(ContainSubstring("already running")))
	})

	It("runs as an ifrit process: ready once serving, gone on a signal", func() {
		runner, err := etcdrunner.New(etcdrunner.Config{DataDir: GinkgoT().TempDir(), LogLevel: "fatal"})
		Expect(err).NotTo(HaveOccurred())
		process := ifrit.Invoke(runner)
		c, err := runner.Client()
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		Expect(etcdrunner.WaitReady(c, 5*time.Second)).To(Succeed())
		process.Signal(os.Interrupt)
		Eventually(process.Wait(), 10*time.Second).Should(Receive(BeNil()))
	})

	It("holds its database to quota_backend_bytes", func() {
		runner, endpoint := etcdrunner.StartForTestWith(etcdrunner.Config{DataDir: GinkgoT().TempDir(), QuotaBackendBytes: 24 << 20})
		DeferCleanup(runner.Stop)
		c, err := runner.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		status, err := c.Status(context.Background(), endpoint)
		Expect(err).NotTo(HaveOccurred())
		Expect(status.DbSizeQuota).To(BeEquivalentTo(24 << 20))
	})

	DescribeTable("refuses a space config that cannot work",
		func(cfg etcdrunner.Config, message string) {
			cfg.DataDir = "/tmp/unused"
			_, err := etcdrunner.New(cfg)
			Expect(err).To(MatchError(ContainSubstring(message)))
		},
		Entry("a negative quota", etcdrunner.Config{QuotaBackendBytes: -1}, "quota_backend_bytes"),
		Entry("an unknown compaction mode", etcdrunner.Config{AutoCompactionMode: "hourly"}, "auto_compaction_mode"),
		Entry("a mode without retention", etcdrunner.Config{AutoCompactionMode: "periodic"}, "auto_compaction_retention"),
	)

	It("requires a data directory", func() {
		_, err := etcdrunner.New(etcdrunner.Config{})
		Expect(err).To(MatchError(ContainSubstring("data_dir")))
	})
})

var _ = Describe("NewClient", func() {
	It("requires endpoints", func() {
		_, err := etcdrunner.NewClient(etcdrunner.ClientConfig{})
		Expect(err).To(HaveOccurred())
	})

	It("reports unreadable TLS files", func() {
		_, err := etcdrunner.NewClient(etcdrunner.ClientConfig{
			Endpoints: []string{"https://127.0.0.1:1"},
			TLS:       etcdrunner.ClientTLS{CACertFile: "/nonexistent/ca.pem", CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"},
		})
		Expect(err).To(MatchError(ContainSubstring("TLS")))
	})
})
