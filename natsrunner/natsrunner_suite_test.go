package natsrunner_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestNatsrunner(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Natsrunner Suite")
}
