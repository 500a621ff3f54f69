package image_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"code.cloudfoundry.org/lager/v3/lagertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
)

// mapping is an unprivileged container's: container root is host uid 100000.
var mapping = []image.IDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}

var _ = Describe("Layers", func() {
	var (
		logger *lagertest.TestLogger
		ctx    context.Context
		dir    string
		store  *image.Store
	)

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("image")
		ctx = context.Background()
		dir = GinkgoT().TempDir()
		var err error
		store, err = image.NewStore(logger, image.StoreConfig{Dir: dir, InsecureRegistries: []string{registryHost}, HostImagePaths: []string{os.TempDir()}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(store.Cleanup(logger)).To(Succeed())
			Expect(mountsUnder(dir)).To(BeEmpty())
		})
	})

	create := func(handle, repo string, spec image.Spec) image.Image {
		spec.URI = "docker://" + registryHost + "/" + repo
		img, err := store.Create(ctx, logger, handle, spec)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		return img
	}

	Describe("whiteouts and opaque directories", func() {
		It("hide what lower layers had, in the mounted rootfs", func() {
			root := create("c1", "diego/whiteouts", image.Spec{}).RootFSPath
			Expect(readFile(filepath.Join(root, "a", "keep"))).To(Equal("keep"))
			Expect(filepath.Join(root, "a", "x")).NotTo(BeAnExistingFile())
			Expect(filepath.Join(root, "f")).NotTo(BeAnExistingFile())
			entries, err := os.ReadDir(filepath.Join(root, "d"))
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(1))
			Expect(entries[0].Name()).To(Equal("z"))
		})

		It("are stored in overlay's form in the cached layer", func() {
			root := create("c1", "diego/whiteouts", image.Spec{}).RootFSPath
			lowers := strings.Split(strings.TrimPrefix(strings.Split(overlayOptions(root), ",")[1], "lowerdir="), ":")
			top := lowers[0]

			var st unix.Stat_t
			Expect(unix.Lstat(filepath.Join(top, "a", "x"), &st)).To(Succeed())
			Expect(st.Mode & unix.S_IFMT).To(Equal(uint32(unix.S_IFCHR)))
			Expect(st.Rdev).To(BeZero())
			Expect(filepath.Join(top, "a", ".wh.x")).NotTo(BeAnExistingFile())

			value := make([]byte, 8)
			n, err := unix.Lgetxattr(filepath.Join(top, "d"), "trusted.overlay.opaque", value)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(value[:n])).To(Equal("y"))
		})

		It("let the container delete and recreate files of the image", func() {
			root := create("c1", "diego/whiteouts", image.Spec{}).RootFSPath
			Expect(os.Remove(filepath.Join(root, "a", "keep"))).To(Succeed())
			Expect(filepath.Join(root, "a", "keep")).NotTo(BeAnExistingFile())
			Expect(os.WriteFile(filepath.Join(root, "a", "x"), []byte("new"), 0o644)).To(Succeed())
			Expect(readFile(filepath.Join(root, "a", "x"))).To(Equal("new"))
		})
	})

	Describe("the layer cache", func() {
		It("unpacks a layer once and shares it between containers and images", func() {
			first := create("c1", "diego/busybox", image.Spec{})
			second := create("c2", "diego/busybox", image.Spec{})
			Expect(layerDirs(dir)).To(HaveLen(1))
			Expect(lowerDirs(first.RootFSPath)).To(Equal(lowerDirs(second.RootFSPath)))

			third := create("c3", "diego/whiteouts", image.Spec{})
			Expect(layerDirs(dir)).To(HaveLen(3), "busybox's layer is the whiteout image's bottom layer")
			lowers := lowerDirs(third.RootFSPath)
			Expect(lowers[len(lowers)-1]).To(Equal(lowerDirs(first.RootFSPath)[0]))
		})

		It("unpacks once when many containers of one image are created at once", func() {
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					_, errs[i] = store.Create(ctx, logger, fmt.Sprintf("c%d", i), image.Spec{URI: "docker://" + registryHost + "/diego/whiteouts"})
				}()
			}
			wg.Wait()
			for _, err := range errs {
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(layerDirs(dir)).To(HaveLen(3))
			Expect(logger.LogMessages()).To(HaveEach(Not(HaveSuffix("unpack-layer.failed"))))
			Expect(countSuffix(logger.LogMessages(), "unpack-layer.finished")).To(Equal(3))
			Expect(mountsUnder(filepath.Join(dir, "containers"))).To(HaveLen(n))
		})

		It("keeps layer directory names short for overlay's option limit", func() {
			create("c1", "diego/whiteouts", image.Spec{})
			Expect(layerDirs(dir)).To(HaveLen(3))
			for _, name := range layerDirs(dir) {
				Expect(len(name)).To(BeNumerically("<=", 16))
			}
		})
	})

	Describe("an image with more layers than mount(2)'s option string can name", func() {
		It("is mounted one lower dir at a time", func() {
			longDir := filepath.Join(dir, strings.Repeat("d", 120))
			longStore, err := image.NewStore(logger, image.StoreConfig{Dir: longDir, HostImagePaths: []string{os.TempDir()}})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { Expect(longStore.Cleanup(logger)).To(Succeed()) })

			const n = 60 // 60 * ~200 bytes of lowerdir is three pages
			layers := make([]v1.Layer, n)
			for i := range layers {
				layers[i], err = imagetest.Layer(imagetest.File(fmt.Sprintf("layer-%d", i), 0o644, []byte{byte(i)}),
					imagetest.File("top", 0o644, []byte(fmt.Sprint(i))))
				Expect(err).NotTo(HaveOccurred())
			}
			img, err := imagetest.Image(v1.Config{}, layers...)
			Expect(err).NotTo(HaveOccurred())
			layoutDir := filepath.Join(GinkgoT().TempDir(), "layout")
			Expect(imagetest.WriteOCILayout(layoutDir, img, "latest")).To(Succeed())

			rootfs, err := longStore.Create(ctx, logger, "c1", image.Spec{URI: "oci://" + layoutDir})
			Expect(err).NotTo(HaveOccurred())
			Expect(filepath.Join(rootfs.RootFSPath, "layer-0")).To(BeARegularFile())
			Expect(filepath.Join(rootfs.RootFSPath, fmt.Sprintf("layer-%d", n-1))).To(BeARegularFile())
			Expect(readFile(filepath.Join(rootfs.RootFSPath, "top"))).To(Equal(fmt.Sprint(n - 1)))
		})
	})

	Describe("id mappings", func() {
		It("shift file owners so container root is an unprivileged host uid", func() {
			root := create("c1", "diego/busybox", image.Spec{UIDMappings: mapping, GIDMappings: mapping}).RootFSPath
			uid, gid := owner(filepath.Join(root, "bin", "busybox"))
			Expect([]uint32{uid, gid}).To(Equal([]uint32{100000, 100000}))
			uid, gid = owner(filepath.Join(root, "home", "vcap"))
			Expect([]uint32{uid, gid}).To(Equal([]uint32{100000 + imagetest.VcapUID, 100000 + imagetest.VcapUID}))
			uid, _ = owner(root)
			Expect(uid).To(Equal(uint32(100000)), "the merged / belongs to container root")

			info, err := os.Stat(filepath.Join(root, "tmp"))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Mode() & os.ModeSticky).NotTo(BeZero())
		})

		It("are cached apart from unshifted layers", func() {
			create("c1", "diego/busybox", image.Spec{})
			shifted := create("c2", "diego/busybox", image.Spec{UIDMappings: mapping, GIDMappings: mapping})
			Expect(layerDirs(dir)).To(HaveLen(2))
			uid, _ := owner(filepath.Join(lowerDirs(shifted.RootFSPath)[0], "bin", "busybox"))
			Expect(uid).To(Equal(uint32(100000)))
		})
	})

	Describe("hostile layers", func() {
		var marker string

		BeforeEach(func() {
			marker = "diego-image-escape-" + filepath.Base(dir)
		})

		createFrom := func(entries ...imagetest.Entry) error {
			layer, err := imagetest.Layer(entries...)
			Expect(err).NotTo(HaveOccurred())
			img, err := imagetest.Image(v1.Config{}, layer)
			Expect(err).NotTo(HaveOccurred())
			layoutDir := filepath.Join(GinkgoT().TempDir(), "layout")
			Expect(imagetest.WriteOCILayout(layoutDir, img, "latest")).To(Succeed())
			_, err = store.Create(ctx, logger, "c1", image.Spec{URI: "oci://" + layoutDir})
			return err
		}

		It("cannot write outside the layer through '..' or symlinks", func() {
			err := createFrom(
				imagetest.File("../../../../../../tmp/"+marker, 0o644, []byte("dotdot")),
				imagetest.Symlink("escape", "/tmp"),
				imagetest.File("escape/"+marker+"-via-link", 0o644, []byte("link")),
				imagetest.Symlink("up", "../../../../../.."),
				imagetest.File("up/tmp/"+marker+"-via-relative-link", 0o644, []byte("relative")),
			)
			Expect(err).NotTo(HaveOccurred())
			for _, suffix := range []string{"", "-via-link", "-via-relative-link"} {
				Expect(filepath.Join("/tmp", marker+suffix)).NotTo(BeAnExistingFile())
			}
			root := filepath.Join(dir, "containers", "c1", "rootfs")
			Expect(readFile(filepath.Join(root, "tmp", marker))).To(Equal("dotdot"))
			Expect(readFile(filepath.Join(root, "tmp", marker+"-via-link"))).To(Equal("link"))
		})

		It("cannot hard link to files outside the layer", func() {
			var before unix.Stat_t
			Expect(unix.Stat("/etc/hostname", &before)).To(Succeed())
			err := createFrom(imagetest.Hardlink("stolen", "../../../../../../etc/hostname"))
			Expect(err).To(HaveOccurred())
			var after unix.Stat_t
			Expect(unix.Stat("/etc/hostname", &after)).To(Succeed())
			Expect(after.Nlink).To(Equal(before.Nlink))
			Expect(filepath.Join(dir, "containers", "c1")).NotTo(BeAnExistingFile())
			Expect(filepath.Glob(filepath.Join(dir, "layers", "tmp-*"))).To(BeEmpty())
		})
	})
})

// lowerDirs returns the overlay lower dirs of the rootfs mounted at target.
func lowerDirs(target string) []string {
	for _, opt := range strings.Split(overlayOptions(target), ",") {
		if v, ok := strings.CutPrefix(opt, "lowerdir="); ok {
			return strings.Split(v, ":")
		}
	}
	return nil
}

func countSuffix(messages []string, suffix string) int {
	n := 0
	for _, m := range messages {
		if strings.HasSuffix(m, suffix) {
			n++
		}
	}
	return n
}
