package image_test

import (
	"os"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/imagetest"
)

func TestImage(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Garden image suite")
}

// Fixtures shared by every spec; images are immutable.
var (
	busybox, whiteouts v1.Image
	registryHost       string // plain registry holding diego/busybox:1.0 and :latest, diego/whiteouts:latest
)

var _ = BeforeSuite(func() {
	Expect(os.Geteuid()).To(Equal(0), "the image suite mounts overlays: run it as root")

	var err error
	busybox, err = imagetest.BusyboxImage()
	Expect(err).NotTo(HaveOccurred())
	whiteouts, err = imagetest.WhiteoutImage()
	Expect(err).NotTo(HaveOccurred())

	reg := imagetest.NewRegistry()
	DeferCleanup(reg.Close)
	registryHost = reg.Host
	Expect(imagetest.Push(registryHost, "diego/busybox", "1.0", busybox)).To(Succeed())
	Expect(imagetest.Push(registryHost, "diego/busybox", "latest", busybox)).To(Succeed())
	Expect(imagetest.Push(registryHost, "diego/whiteouts", "latest", whiteouts)).To(Succeed())
})
