//go:build e2e

// Package faults_test holds the fault-injection specs of issue 19: the
// control plane stumbles (NATS or etcd away, a cell's heartbeats held, a
// cell whose creates all fail, a late cell, compacted history, a route
// update loop) while the cells stay healthy, and users see nothing. Each
// spec runs one scenario of e2e/faults/scenario on a fresh cluster of its
// own (`diego up`: real etcd, NATS, runc containers and router).
package faults_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/faults/scenario"
	"github.com/diego-runtime/diego/e2e/world"
)

// portOffset keeps this suite's clusters (ports x+9000, bridges dg10c*) off
// a developer's (0) and the other suites' (3000, 5000, 7000).
const portOffset = 9000

var env scenario.Env

func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Diego fault injection")
}

var _ = BeforeSuite(func() {
	binDir, err := os.MkdirTemp("", "diego-e2e-faults-bin-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, binDir)
	Expect(world.Build(binDir)).To(Succeed())
	env = scenario.Env{BinDir: binDir, PortOffset: portOffset, Output: GinkgoWriter}
})
