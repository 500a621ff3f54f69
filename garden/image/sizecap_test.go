package image_test

import (
	"context"
	"os"
	"path/filepath"

	"code.cloudfoundry.org/lager/v3/lagertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
)

// Issue 14, item 4: a cap on what an image decompresses to.
var _ = Describe("The decompressed size cap", func() {
	const capBytes = 64 << 20

	var (
		logger *lagertest.TestLogger
		dir    string
		store  *image.Store
	)

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("image")
		dir = GinkgoT().TempDir()
		var err error
		store, err = image.NewStore(logger, image.StoreConfig{Dir: dir, InsecureRegistries: []string{registryHost}, MaxImageBytes: capBytes})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(store.Cleanup(logger)).To(Succeed())
			Expect(mountsUnder(dir)).To(BeEmpty())
		})
	})

	pushed := func(repo string, layers ...v1.Layer) string {
		GinkgoHelper()
		img, err := imagetest.Image(v1.Config{Cmd: []string{"sh"}}, layers...)
		Expect(err).NotTo(HaveOccurred())
		Expect(imagetest.Push(registryHost, repo, "latest", img)).To(Succeed())
		return "docker://" + registryHost + "/" + repo
	}

	// used is what the store directory holds on disk, in bytes.
	used := func() int64 {
		var total int64
		Expect(filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				total += fi.Size()
			}
			return nil
		})).To(Succeed())
		return total
	}

	DescribeTable("refuses an image that decompresses past the cap, and caches nothing of it",
		func(repo string, layers func() []v1.Layer) {
			ls := layers()
			uri := pushed(repo, ls...)
			_, err := store.Create(context.Background(), logger, "bomb", image.Spec{URI: uri, UIDMappings: mapping, GIDMappings: mapping})
			Expect(err).To(MatchError(image.ErrImageTooLarge))
			var fetch *image.FetchError
			Expect(err).To(BeAssignableToTypeOf(fetch))
			Expect(err.Error()).To(ContainSubstring("decompresses to more than the cap of 64 MiB"))
			// The layer that crossed the cap is not cached (one unpacked
			// in parallel may be: it was within the cap on its own).
			Expect(len(layerDirs(dir))).To(BeNumerically("<", len(ls)))
			entries, err := os.ReadDir(filepath.Join(dir, "layers"))
			Expect(err).NotTo(HaveOccurred())
			for _, e := range entries {
				Expect(e.Name()).NotTo(HavePrefix("tmp-"), "a half-written layer was left")
			}
			Expect(used()).To(BeNumerically("<", capBytes+(16<<20)), "the host disk took more than the cap")
			Expect(filepath.Join(dir, "containers", "bomb")).NotTo(BeAnExistingFile())
		},
		Entry("a 2 GiB gzip bomb layer", "diego/bomb", func() []v1.Layer {
			return []v1.Layer{imagetest.Must(imagetest.BombLayer(2 << 30))}
		}),
		Entry("layers each under the cap that add up past it", "diego/bomb-pair", func() []v1.Layer {
			return []v1.Layer{imagetest.Must(imagetest.BombLayer(48 << 20)), imagetest.Must(imagetest.BombLayer(32 << 20))}
		}),
	)

	It("still creates an image under the cap", func() {
		_, err := store.Create(context.Background(), logger, "ok", image.Spec{URI: "docker://" + registryHost + "/diego/busybox"})
		Expect(err).NotTo(HaveOccurred())
	})
})
