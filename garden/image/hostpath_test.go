package image_test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
)

// Host-path URIs (oci:///, docker-archive:///) come from whoever submits
// work; garden opens them as root. These specs are the attacks of issue 14:
// each must be refused at once with ErrBadURI, before anything is read.
var _ = Describe("host-path image URIs", func() {
	var (
		logger           *lagertest.TestLogger
		dir              string
		allowed, outside string
		cfg              image.StoreConfig
		store            *image.Store
	)

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("image")
		dir = GinkgoT().TempDir()
		root := GinkgoT().TempDir()
		allowed = filepath.Join(root, "allowed")
		outside = filepath.Join(root, "outside")
		Expect(os.Mkdir(allowed, 0o755)).To(Succeed())
		Expect(os.Mkdir(outside, 0o755)).To(Succeed())

		// Good images on both sides of the line.
		for _, d := range []string{allowed, outside} {
			Expect(imagetest.WriteOCILayout(filepath.Join(d, "layout"), busybox, "1.0")).To(Succeed())
			Expect(imagetest.WriteDockerArchive(filepath.Join(d, "busybox.tar"), busybox, "diego/busybox:1.0")).To(Succeed())
		}
		cfg = image.StoreConfig{Dir: dir, HostImagePaths: []string{allowed}}
		var err error
		store, err = image.NewStore(logger, cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(store.Cleanup(logger)).To(Succeed())
			Expect(mountsUnder(dir)).To(BeEmpty())
		})
	})

	// createQuickly runs Create and fails the spec if it takes more than two
	// seconds: a refused URI must never hold a worker.
	createQuickly := func(s *image.Store, uri string) error {
		GinkgoHelper()
		done := make(chan error, 1)
		go func() {
			_, err := s.Create(context.Background(), logger, "c1", image.Spec{URI: uri})
			done <- err
		}()
		var err error
		Eventually(done, 2*time.Second).Should(Receive(&err), "Create(%s) is still running", uri)
		return err
	}

	It("serves layouts and archives inside a listed directory", func() {
		img, err := store.Create(context.Background(), logger, "c1", image.Spec{URI: "oci://" + allowed + "/layout#1.0"})
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Join(img.RootFSPath, "bin", "busybox")).To(BeARegularFile())
		img, err = store.Create(context.Background(), logger, "c2", image.Spec{URI: "docker-archive://" + allowed + "/busybox.tar"})
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Join(img.RootFSPath, "bin", "busybox")).To(BeARegularFile())
	})

	It("fails with a FetchError (not a refusal) for a missing file inside a listed directory", func() {
		_, err := store.Create(context.Background(), logger, "c1", image.Spec{URI: "docker-archive://" + allowed + "/missing.tar"})
		Expect(err).NotTo(MatchError(image.ErrBadURI))
		var fe *image.FetchError
		Expect(err).To(BeAssignableToTypeOf(fe))
	})

	DescribeTable("refuses at once with ErrBadURI",
		func(uri func() string) {
			err := createQuickly(store, uri())
			Expect(err).To(MatchError(image.ErrHostPathRefused))
			Expect(err).To(MatchError(image.ErrBadURI))
			Expect(filepath.Join(dir, "containers", "c1")).NotTo(BeAnExistingFile())
			Expect(layerDirs(dir)).To(BeEmpty(), "nothing was read")
		},
		Entry("docker-archive:///dev/zero", func() string { return "docker-archive:///dev/zero" }),
		Entry("oci:///etc#x", func() string { return "oci:///etc#x" }),
		Entry("a valid archive outside the listed directories", func() string {
			return "docker-archive://" + outside + "/busybox.tar"
		}),
		Entry("a valid layout reached through ..", func() string {
			return "oci://" + allowed + "/../outside/layout#1.0"
		}),
		Entry("a symlink in a listed directory to an archive outside", func() string {
			Expect(os.Symlink(filepath.Join(outside, "busybox.tar"), filepath.Join(allowed, "link.tar"))).To(Succeed())
			return "docker-archive://" + allowed + "/link.tar"
		}),
		Entry("a symlink in a listed directory to a layout outside", func() string {
			Expect(os.Symlink(filepath.Join(outside, "layout"), filepath.Join(allowed, "link"))).To(Succeed())
			return "oci://" + allowed + "/link#1.0"
		}),
		Entry("a layout whose blobs are a symlink to another layout's", func() string {
			l := filepath.Join(allowed, "hollow")
			Expect(imagetest.WriteOCILayout(l, busybox, "1.0")).To(Succeed())
			Expect(os.RemoveAll(filepath.Join(l, "blobs"))).To(Succeed())
			Expect(os.Symlink(filepath.Join(outside, "layout", "blobs"), filepath.Join(l, "blobs"))).To(Succeed())
			return "oci://" + l + "#1.0"
		}),
		Entry("a fifo in a listed directory (its open would block for ever)", func() string {
			fifo := filepath.Join(allowed, "fifo.tar")
			Expect(unix.Mkfifo(fifo, 0o644)).To(Succeed())
			DeferCleanup(func() { // unblock a reader the store may have left
				if f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			})
			return "docker-archive://" + fifo
		}),
		Entry("a device node in a listed directory", func() string {
			dev := filepath.Join(allowed, "zero.tar")
			Expect(unix.Mknod(dev, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5)))).To(Succeed())
			return "docker-archive://" + dev
		}),
		Entry("a directory given as an archive", func() string { return "docker-archive://" + allowed }),
		Entry("a file given as a layout", func() string { return "oci://" + allowed + "/busybox.tar#1.0" }),
	)

	It("refuses both schemes when no directory is listed", func() {
		cfg.HostImagePaths = nil
		unlisted, err := image.NewStore(logger, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(createQuickly(unlisted, "docker-archive://"+allowed+"/busybox.tar")).To(MatchError(image.ErrHostPathRefused))
		Expect(createQuickly(unlisted, "oci://"+allowed+"/layout#1.0")).To(MatchError(image.ErrHostPathRefused))
	})

	It("refuses a config that lists a relative directory", func() {
		cfg.HostImagePaths = []string{"images"}
		_, err := image.NewStore(logger, cfg)
		Expect(err).To(MatchError(ContainSubstring("must be an absolute path")))
	})
})
