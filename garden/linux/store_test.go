package linux_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/imagetest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Issue 14, item 5, against real runc containers.
var _ = Describe("the image store against a local user and host-path URIs", func() {
	It("does not let a host user run a privileged container's setuid-root binary through its rootfs", func() {
		setuid := imagetest.Must(imagetest.SetuidImage(GinkgoT().TempDir()))
		Expect(imagetest.Push(registry.Host, "setuid", "latest", setuid)).To(Succeed())
		handle := create(garden.ContainerSpec{Privileged: true, Image: garden.ImageRef{URI: fmt.Sprintf("docker://%s/setuid#latest", registry.Host)}}).Handle

		status, out, _ := run(handle, garden.ProcessSpec{Path: "/" + imagetest.SetuidPath})
		Expect(status).To(Equal(0))
		Expect(strings.TrimSpace(out)).To(Equal("0"), "the container runs its image")

		// The running container's rootfs, where the store mounted it.
		path := filepath.Join(stateDir, "img", "containers", handle, "rootfs", imagetest.SetuidPath)
		info, err := os.Stat(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode() & os.ModeSetuid).NotTo(BeZero())
		cmd := exec.Command(path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		output, err := cmd.CombinedOutput()
		Expect(strings.TrimSpace(string(output))).NotTo(Equal("0"), "nobody ran %s as root", path)
		Expect(err).To(HaveOccurred(), "nobody reached %s", path)

		status, out, _ = run(handle, garden.ProcessSpec{Path: "/" + imagetest.SetuidPath})
		Expect(status).To(Equal(0))
		Expect(strings.TrimSpace(out)).To(Equal("0"), "and the container still runs")
	})

	DescribeTable("refuses host-path URIs outside image_host_paths at once, as BadURI",
		func(uri string) {
			start := time.Now()
			_, err := backend.Create(context.Background(), garden.ContainerSpec{Image: garden.ImageRef{URI: uri}})
			Expect(err).To(MatchError(garden.ErrBadURI))
			Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
		},
		Entry("docker-archive:///dev/zero", "docker-archive:///dev/zero"),
		Entry("oci:///etc#x", "oci:///etc#x"),
	)
})
