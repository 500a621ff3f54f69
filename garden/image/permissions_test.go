package image_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
)

// runAsNobody runs path as an unprivileged host user (nobody) and returns what
// it printed, or the error that stopped it.
func runAsNobody(path string) (string, error) {
	cmd := exec.Command(path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// A local user on a multi-user cell goes after a privileged image's
// setuid-root binary where the store keeps it (issue 14, item 5).
var _ = Describe("the store against other host users", func() {
	var (
		logger *lagertest.TestLogger
		dir    string
		store  *image.Store
		img    image.Image
	)

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("image")
		// A parent every host user may search, as a cell's state dir is.
		base, err := os.MkdirTemp("", "dg-perm-")
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Chmod(base, 0o755)).To(Succeed())
		dir = filepath.Join(base, "store")
		store, err = image.NewStore(logger, image.StoreConfig{Dir: dir, InsecureRegistries: []string{registryHost}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(store.Cleanup(logger)).To(Succeed())
			Expect(mountsUnder(dir)).To(BeEmpty())
			Expect(os.RemoveAll(base)).To(Succeed())
		})

		setuid := imagetest.Must(imagetest.SetuidImage(GinkgoT().TempDir()))
		Expect(imagetest.Push(registryHost, "diego/setuid", "latest", setuid)).To(Succeed())
		// Privileged: no id mappings, the binary stays root's with its setuid bit.
		img, err = store.Create(context.Background(), logger, "c1", image.Spec{URI: "docker://" + registryHost + "/diego/setuid"})
		Expect(err).NotTo(HaveOccurred())
		out, err := exec.Command(filepath.Join(img.RootFSPath, imagetest.SetuidPath)).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "the binary runs for root: %s", out)
	})

	DescribeTable("a setuid-root binary run by nobody never runs as root",
		func(path func() string) {
			p := path()
			info, err := os.Stat(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Mode()&os.ModeSetuid).NotTo(BeZero(), "the attack needs the setuid bit in place")
			out, err := runAsNobody(p)
			Expect(out).NotTo(Equal("0"), "%s ran as root for nobody", p)
			Expect(err).To(HaveOccurred(), "nobody reached %s (it printed %q)", p, out)
		},
		Entry("from the layer cache", func() string {
			found, err := filepath.Glob(filepath.Join(dir, "layers", "*", imagetest.SetuidPath))
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(HaveLen(1))
			return found[0]
		}),
		Entry("through a mounted rootfs", func() string { return filepath.Join(img.RootFSPath, imagetest.SetuidPath) }),
		Entry("from the upper dir a privileged container wrote it to", func() string {
			// Root of a privileged container is host root: it can leave a
			// setuid-root copy in its writable layer.
			data, err := os.ReadFile(filepath.Join(img.RootFSPath, imagetest.SetuidPath))
			Expect(err).NotTo(HaveOccurred())
			copied := filepath.Join(img.RootFSPath, "tmp", "mine")
			Expect(os.WriteFile(copied, data, 0o755)).To(Succeed())
			Expect(syscall.Chmod(copied, 0o4755)).To(Succeed())
			return filepath.Join(dir, "containers", "c1", "upper", "tmp", "mine")
		}),
	)

	It("mounts rootfses nosuid and nodev", func() {
		var st syscall.Statfs_t
		Expect(syscall.Statfs(img.RootFSPath, &st)).To(Succeed())
		Expect(st.Flags & syscall.MS_NOSUID).NotTo(BeZero())
		Expect(st.Flags & syscall.MS_NODEV).NotTo(BeZero())
	})

	DescribeTable("keeps other host users out of everything they need not traverse",
		func(rel string, mode os.FileMode) {
			info, err := os.Stat(filepath.Join(dir, rel))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Mode().Perm()).To(Equal(mode))
		},
		Entry("the store: containers' roots pass through", ".", os.FileMode(0o711)),
		Entry("containers/: containers' roots pass through", "containers", os.FileMode(0o711)),
		Entry("a container's directory: its own root only", "containers/c1", os.FileMode(0o700)),
		Entry("the layer cache: only garden (overlay reads lowers as the mounter)", "layers", os.FileMode(0o700)),
		Entry("overlay's work dir", "containers/c1/work", os.FileMode(0o700)),
	)
})
