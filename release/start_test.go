package release_test

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/natsrunner"
)

// The brain's daemons, each started for real from a config rendered by its
// job against a real etcd and NATS (the cell's need root and runc, and are
// checked by -check above).
var _ = Describe("a brain daemon started from its rendered config", func() {
	var etcdURL, natsURL string

	BeforeEach(func() {
		etcd, endpoint := etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(etcd.Stop)
		etcdURL = endpoint
		nats, process, err := natsrunner.StartForTest(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 10*time.Second) })
		natsURL = nats.ClientURL()
	})

	DescribeTable("runs and answers /ping on its debug address",
		func(name string, props func(listen string) map[string]any) {
			listen, debug := freeAddress(), freeAddress()
			p := props(listen)
			p["debug_address"] = debug
			path := filepath.Join(GinkgoT().TempDir(), name+".json")
			_, err := staged.Render(job(name), p, path)
			Expect(err).NotTo(HaveOccurred())

			session, err := gexec.Start(exec.Command(staged.Binary(name), "-config", path), GinkgoWriter, GinkgoWriter)
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
			Consistently(session, time.Second).ShouldNot(gexec.Exit(), "it keeps running")
		},
		Entry("bbs", "bbs", func(listen string) map[string]any {
			return map[string]any{"listen_address": listen, "etcd.endpoints": []any{etcdURL},
				"encryption_keys": map[string]any{"k1": "sixteen or more characters"}, "active_key_label": "k1"}
		}),
		Entry("auctioneer", "auctioneer", func(listen string) map[string]any {
			return map[string]any{"listen_address": listen, "advertise_url": "http://" + listen,
				"etcd.endpoints": []any{etcdURL}, "bbs_urls": []any{"http://" + freeAddress()}}
		}),
		Entry("converger", "converger", func(string) map[string]any {
			return map[string]any{"etcd.endpoints": []any{etcdURL}, "bbs_urls": []any{"http://" + freeAddress()}}
		}),
		Entry("receptor", "receptor", func(listen string) map[string]any {
			return map[string]any{"listen_address": listen, "bbs_urls": []any{"http://" + freeAddress()}, "nats_urls": []any{natsURL}}
		}),
		Entry("route-emitter", "route-emitter", func(string) map[string]any {
			return map[string]any{"etcd.endpoints": []any{etcdURL}, "bbs_urls": []any{"http://" + freeAddress()}, "nats_urls": []any{natsURL}}
		}),
		Entry("router", "router", func(listen string) map[string]any {
			return map[string]any{"listen_address": listen, "nats_urls": []any{natsURL}}
		}),
	)
})
