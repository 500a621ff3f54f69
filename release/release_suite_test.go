package release_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/release"
)

func TestRelease(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Release Suite")
}

// staged is a release staged once for the suite from freshly built, static
// binaries and this source tree, in suiteDir.
var (
	staged   release.Dir
	suiteDir string
)

// source is the module's root.
const source = ".."

var _ = SynchronizedBeforeSuite(func() []byte {
	dir, err := os.MkdirTemp("", "diego-release-suite-")
	Expect(err).NotTo(HaveOccurred())
	bin := filepath.Join(dir, "build")
	args := []string{"build", "-o", bin + "/"}
	for _, b := range []string{"diego", "auctioneer", "bbs", "converger", "garden", "garden-init", "receptor", "rep", "route-emitter", "router"} {
		args = append(args, "./cmd/"+b)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = source
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Run()).To(Succeed(), "building the binaries")
	stage := filepath.Join(dir, "release")
	_, err = release.Stage(release.BuildOptions{Source: source, Bin: bin, Version: "suite"}, stage)
	Expect(err).NotTo(HaveOccurred())
	return []byte(dir)
}, func(dir []byte) {
	suiteDir = string(dir)
	staged = release.Dir(filepath.Join(suiteDir, "release"))
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	if suiteDir != "" {
		Expect(os.RemoveAll(suiteDir)).To(Succeed())
	}
})
