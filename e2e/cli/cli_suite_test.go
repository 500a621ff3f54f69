// Package cli_test drives one running cluster (`diego up`, 2 cells in 2 zones)
// through the diego command line, as a user would, and checks what each
// command printed against the API and the router. It runs in `make test`.
package cli_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
)

// portOffset keeps this suite's cluster (ports x+3000, cells' host ports
// 23000-24999, bridges dg4c*) off a developer's (offset 0) and the acceptance
// suite's (5000).
const portOffset = 3000

var (
	w      *world.World
	binDir string
)

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "diego CLI end to end")
}

var _ = BeforeSuite(func() {
	var err error
	binDir, err = os.MkdirTemp("", "diego-e2e-cli-bin-")
	Expect(err).NotTo(HaveOccurred())
	Expect(world.Build(binDir)).To(Succeed())
	w, err = world.Start(world.Options{BinDir: binDir, Cells: 2, Zones: 2, PortOffset: portOffset, Output: GinkgoWriter,
		// The operator's switch, on one cell: `diego ssh` is refused there (ssh_test.go).
		Settings: []string{"cell-2-rep.disable_ssh=true"}})
	Expect(err).NotTo(HaveOccurred())
})

// Last of all, whatever order the specs ran in: diego up, on SIGINT, stops
// every daemon and container (Stop fails naming any process or mount left).
var _ = AfterSuite(func() {
	if w != nil && w.Running() {
		Expect(w.Stop()).To(Succeed())
		Expect(w.Output()).To(ContainSubstring("Diego stopped."))
		_, err := w.Cells()
		Expect(err).To(MatchError(ContainSubstring("connection refused")))
	}
	if binDir != "" {
		Expect(os.RemoveAll(binDir)).To(Succeed())
	}
})
