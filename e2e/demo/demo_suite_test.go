//go:build e2e

// Package demo_test is the headline demo on a cluster with `diego up`'s
// defaults (3 cells, capacity derived from the machine): `diego demo`, then
// `diego scale demo 300`, as a new user types them. It runs in `make e2e`.
package demo_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
)

// portOffset keeps this suite's cluster off a developer's (0), the CLI
// suite's (3000), the acceptance suite's (5000) and the attack suite's (7000).
const portOffset = 9000

var (
	w      *world.World
	binDir string
)

func TestDemo(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "the 300-instance demo on defaults")
}

var _ = BeforeSuite(func() {
	var err error
	binDir, err = os.MkdirTemp("", "diego-e2e-demo-bin-")
	Expect(err).NotTo(HaveOccurred())
	Expect(world.Build(binDir)).To(Succeed())
	w, err = world.Start(world.Options{BinDir: binDir, Cells: 3, Zones: 3, PortOffset: portOffset, Output: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if w != nil && w.Running() {
		Expect(w.Stop()).To(Succeed())
	}
	if binDir != "" {
		Expect(os.RemoveAll(binDir)).To(Succeed())
	}
})
