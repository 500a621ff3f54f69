package release_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

// The diego binary of the release finds the release it was unpacked with.
var _ = Describe("the release's diego command", func() {
	run := func(args ...string) *gexec.Session {
		session, err := gexec.Start(exec.Command(staged.Binary("diego"), args...), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, 30*time.Second).Should(gexec.Exit())
		return session
	}
	properties := func(props map[string]any) string {
		data, err := json.Marshal(props)
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "properties.json")
		Expect(os.WriteFile(path, data, 0o644)).To(Succeed())
		return path
	}

	It("renders a job's config and prints it", func() {
		session := run("render", "rep", properties(map[string]any{"cell_id": "cell-7", "executor": map[string]any{"capacity": map[string]any{"memory_mb": 4096}}}))
		Expect(session).To(gexec.Exit(0))
		var cfg map[string]any
		Expect(json.Unmarshal(session.Out.Contents(), &cfg)).To(Succeed())
		Expect(cfg).To(HaveKeyWithValue("cell_id", "cell-7"))
		Expect(cfg["executor"]).To(HaveKeyWithValue("capacity", HaveKeyWithValue("memory_mb", BeEquivalentTo(4096))))
	})

	It("says which property the daemon refuses", func() {
		session := run("render", "rep", properties(map[string]any{"cell_id": "cell-7", "harmonize_interval": "0s"}))
		Expect(session).To(gexec.Exit(1))
		Expect(session.Err).To(gbytes.Say("harmonize_interval must be positive"))
	})

	It("installs a job under a root", func() {
		root := GinkgoT().TempDir()
		session := run("install", "router", "--root", root, "--properties", properties(map[string]any{"nats_urls": []any{"nats://10.0.0.5:4222"}}))
		Expect(session).To(gexec.Exit(0))
		Expect(session.Out).To(gbytes.Say("unit   /etc/systemd/system/diego-router.service"))
		for _, f := range []string{"opt/diego/bin/router", "etc/diego/router/config.json", "etc/systemd/system/diego-router.service", "opt/diego/jobs/router/spec"} {
			Expect(filepath.Join(root, f)).To(BeAnExistingFile())
		}
	})
})
