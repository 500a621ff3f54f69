package release_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/release"
)

var _ = Describe("the release tarball", func() {
	It("holds every binary, every job's spec and templates, and a manifest whose sums match", func() {
		out := filepath.Join(GinkgoT().TempDir(), "diego-suite.tgz")
		Expect(release.Pack(string(staged), "diego-suite", out)).To(Succeed())

		f, err := os.Open(out)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		gz, err := gzip.NewReader(f)
		Expect(err).NotTo(HaveOccurred())
		tr := tar.NewReader(gz)
		var names []string
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			Expect(err).NotTo(HaveOccurred())
			names = append(names, hdr.Name)
		}
		Expect(names).To(ContainElements("diego-suite/release.json", "diego-suite/bin/diego", "diego-suite/bin/garden-init"))
		for _, j := range release.Jobs {
			for _, b := range j.Binaries {
				Expect(names).To(ContainElement("diego-suite/bin/" + b))
			}
			Expect(names).To(ContainElements("diego-suite/jobs/"+j.Name+"/spec", "diego-suite/jobs/"+j.Name+"/templates/"+j.Unit()))
			for _, s := range j.Scripts {
				Expect(names).To(ContainElement("diego-suite/jobs/" + j.Name + "/templates/" + s))
			}
		}

		m, err := staged.Manifest()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Name).To(Equal("diego"))
		Expect(m.Version).To(Equal("suite"))
		Expect(m.Jobs).To(ConsistOf("auctioneer", "bbs", "converger", "garden", "receptor", "rep", "route-emitter", "router"))
		Expect(m.Files).To(HaveLen(len(names) - 1 - countDirs(names))) // all but the manifest and directories
		for _, b := range []string{"diego", "bbs", "garden", "garden-init", "rep"} {
			Expect(m.Files["bin/"+b].Static).NotTo(BeNil(), b)
			Expect(*m.Files["bin/"+b].Static).To(BeTrue(), b+" is built static")
		}
		Expect(staged.Verify()).To(Succeed())
	})

	It("is refused when a file no longer matches its sum", func() {
		dir := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(dir, "jobs", "bbs"), 0o755)).To(Succeed())
		sum := sha256.Sum256([]byte("the spec as released"))
		manifest, err := json.Marshal(release.Manifest{Name: "diego", Files: map[string]release.File{
			"jobs/bbs/spec": {SHA256: hex.EncodeToString(sum[:])},
		}})
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(dir, release.ManifestFile), manifest, 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "jobs", "bbs", "spec"), []byte("the spec as released"), 0o644)).To(Succeed())
		Expect(release.Dir(dir).Verify()).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "jobs", "bbs", "spec"), []byte("a spec changed since"), 0o644)).To(Succeed())
		Expect(release.Dir(dir).Verify()).To(MatchError(ContainSubstring("does not match its sha256")))
	})
})

func countDirs(names []string) int {
	n := 0
	for _, name := range names {
		if name[len(name)-1] == '/' {
			n++
		}
	}
	return n
}
