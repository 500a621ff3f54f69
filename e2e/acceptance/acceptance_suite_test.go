//go:build e2e

// Package acceptance_test holds the acceptance specs behind `make e2e`: each
// promise of the design checked against a whole running cluster (`diego up`,
// 3 cells in 3 zones) through its public API, its router and its CLI, with
// real containers. A spec that breaks the cluster (a cell killed, a cell
// evacuated) is followed by a fresh cluster for the next one.
package acceptance_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
)

// portOffset keeps this suite's cluster (ports x+5000, cells' host ports
// 25000-27999, bridges dg6c*) off a developer's (offset 0) and the CLI
// suite's (3000).
const portOffset = 5000

var (
	w      *world.World
	binDir string
	// appImage is busybox plus the test app; busybox is busybox alone.
	// Both are pushed to the current world's registry.
	appImage, busybox string
	guidSeq           atomic.Int64
)

func TestAcceptance(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Diego acceptance")
}

var _ = BeforeSuite(func() {
	var err error
	binDir, err = os.MkdirTemp("", "diego-e2e-acceptance-bin-")
	Expect(err).NotTo(HaveOccurred())
	Expect(world.Build(binDir)).To(Succeed())
})

// A spec finds a whole running cluster: the one before it, or a fresh one if
// the one before it stopped or lost a cell.
var _ = BeforeEach(func() {
	if w != nil && w.Running() && !w.Damaged() {
		ensureDomain()
		return
	}
	if w != nil {
		err := w.Stop()
		AddReportEntry("the previous cluster was replaced", fmt.Sprint(err))
	}
	var err error
	// The download specs' file servers and the tasks specs' completion
	// callbacks are httptest servers on this machine.
	w, err = world.Start(world.Options{BinDir: binDir, Cells: 3, Zones: 3, PortOffset: portOffset, Output: GinkgoWriter,
		AllowLoopbackDownloads: true, AllowLoopbackCallbacks: true})
	Expect(err).NotTo(HaveOccurred())
	appImage, err = w.PushTestApp()
	Expect(err).NotTo(HaveOccurred())
	busybox, err = w.PushBusybox()
	Expect(err).NotTo(HaveOccurred())
	ensureDomain()
})

var _ = AfterSuite(func() {
	if w != nil {
		// What a stop leaves behind is the shutdown spec's to judge.
		AddReportEntry("the last cluster stopped", fmt.Sprint(w.Stop()))
	}
	if binDir != "" {
		Expect(os.RemoveAll(binDir)).To(Succeed())
	}
})

// guid is a fresh name for a spec's app or task.
func guid(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, guidSeq.Add(1))
}
