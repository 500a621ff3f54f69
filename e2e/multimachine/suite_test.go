//go:build e2e

// Package multimachine_test deploys Diego across machines and takes one
// away (issue 15, item 5). Each machine is a network namespace with its own
// address on a virtual switch (a host bridge, a veth per machine) and a mount
// namespace in which the machine's /etc/diego and /opt/diego are its own.
// Three brain machines run a three-member etcd cluster, a three-node NATS
// cluster with a three-replica log stream, and bbs, receptor, auctioneer,
// converger, route emitter and router each; three cell machines run garden
// and rep. Every daemon comes from the release tarball, installed with
// `diego install`, its config rendered from properties and checked by the
// daemon, its certificate from `diego certs`; every link is mutual TLS. The
// spec runs the acceptance flow through one brain's receptor, then cuts off
// and kills the brain holding the locks, and prints what it lost.
package multimachine_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestMultimachine(t *testing.T) {
	// The suite's own binary runs the etcd members and NATS nodes on the
	// brain machines (see member_test.go).
	if cfg := os.Getenv(memberEnv); cfg != "" {
		os.Exit(runMember(cfg))
	}
	if os.Geteuid() != 0 {
		t.Fatal("the multi-machine suite makes namespaces, a bridge and containers: run it as root")
	}
	RegisterFailHandler(Fail)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Diego across machines")
}
