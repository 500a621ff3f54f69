package router_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	ginkgomon "github.com/tedsuo/ifrit/ginkgomon_v2"

	"github.com/diego-runtime/diego/natsrunner"
)

func TestRouter(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Router Suite")
}

var (
	natsURL     string
	natsProcess ifrit.Process
)

var _ = BeforeSuite(func() {
	runner, process, err := natsrunner.StartForTest(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	natsURL, natsProcess = runner.ClientURL(), process
	SetDefaultEventuallyTimeout(5 * time.Second)
})

var _ = AfterSuite(func() {
	if natsProcess != nil {
		ginkgomon.Interrupt(natsProcess, 10*time.Second)
	}
})
