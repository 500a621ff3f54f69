//go:build e2e

// Package attack_test is the hostile-tenant suite: a tenant's own code (the
// attacker image, testapps/attacker) runs as an LRP and as a task on a whole
// cluster whose cells are isolated as on machines of their own, and tries
// everything a tenant must not do; a tenant's API requests try the rest.
// Every attempt must fail and change nothing; the suite prints one line per
// attack.
package attack_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
)

// portOffset keeps this suite's cluster (ports x+7000, bridges dg8*, network
// 10.208.0.0/16) off a developer's and the other suites'.
const portOffset = 7000

const domain = "attack"

var (
	w        *world.World
	binDir   string
	attacker string // the attacker image's rootfs URI
	app      string // the test app's rootfs URI
)

func TestAttack(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Diego hostile-tenant suite")
}

var _ = BeforeSuite(func() {
	var err error
	binDir, err = os.MkdirTemp("", "diego-e2e-attack-bin-")
	Expect(err).NotTo(HaveOccurred())
	Expect(world.Build(binDir)).To(Succeed())
	w, err = world.Start(world.Options{BinDir: binDir, Cells: 2, Zones: 2, PortOffset: portOffset, IsolateCells: true})
	Expect(err).NotTo(HaveOccurred())
	ref, err := w.PushAttacker()
	Expect(err).NotTo(HaveOccurred())
	attacker = world.RootFS(ref)
	ref, err = w.PushTestApp()
	Expect(err).NotTo(HaveOccurred())
	app = world.RootFS(ref)
	resp, err := w.Request("PUT", "/v1/domains/"+domain, nil)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.Status).To(Equal(204), string(resp.Body))
})

var _ = AfterSuite(func() {
	if w != nil {
		Expect(w.Stop()).To(Succeed())
	}
	if binDir != "" {
		Expect(os.RemoveAll(binDir)).To(Succeed())
	}
})

// report prints the suite's one line for an attack.
func report(where, name, outcome string) {
	fmt.Fprintf(os.Stdout, "attack %-55s from %-10s %s\n", name, where, outcome)
}
