package image_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"code.cloudfoundry.org/lager/v3/lagertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
)

// metricValue reads one series from a registry.
func metricValue(reg *prometheus.Registry, name string) float64 {
	GinkgoHelper()
	families, err := reg.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() == name {
			m := f.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	Fail("no series " + name)
	return 0
}

var _ = Describe("the layer cache's size limit", func() {
	const (
		images    = 6
		layerSize = 1 << 20 // plus a few KiB of directory blocks
	)
	var (
		logger *lagertest.TestLogger
		ctx    context.Context
		dir    string
		store  *image.Store
		reg    *prometheus.Registry
		uris   []string
	)

	// content is image i's one file: 1 MiB no other image shares.
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, layerSize) }

	BeforeEach(func() {
		logger = lagertest.NewTestLogger("image")
		ctx = context.Background()
		dir = GinkgoT().TempDir()
		uris = nil
		for i := range images {
			layer, err := imagetest.Layer(imagetest.File("blob", 0o644, content(i)))
			Expect(err).NotTo(HaveOccurred())
			img, err := imagetest.Image(v1.Config{}, layer)
			Expect(err).NotTo(HaveOccurred())
			repo := fmt.Sprintf("diego/cache-%d", i)
			Expect(imagetest.Push(registryHost, repo, "latest", img)).To(Succeed())
			uris = append(uris, "docker://"+registryHost+"/"+repo)
		}
		var err error
		// Room for two and a half layers.
		store, err = image.NewStore(logger, image.StoreConfig{Dir: dir, InsecureRegistries: []string{registryHost}, LayerCacheMaxBytes: 5 * layerSize / 2})
		Expect(err).NotTo(HaveOccurred())
		reg = prometheus.NewRegistry()
		reg.MustRegister(store.Collectors()...)
		DeferCleanup(func() {
			Expect(store.Cleanup(logger)).To(Succeed())
			Expect(mountsUnder(dir)).To(BeEmpty())
		})
	})

	blobOf := func(img image.Image) []byte {
		GinkgoHelper()
		data, err := os.ReadFile(filepath.Join(img.RootFSPath, "blob"))
		Expect(err).NotTo(HaveOccurred())
		return data
	}

	It("evicts the oldest unused layers and keeps a running container's", func() {
		kept, err := store.Create(ctx, logger, "running", image.Spec{URI: uris[0]})
		Expect(err).NotTo(HaveOccurred())
		keptLayer := layerDirs(dir)
		Expect(keptLayer).To(HaveLen(1))

		var seen []string // layer dirs in the order images were used
		for i := 1; i < images; i++ {
			handle := fmt.Sprintf("c%d", i)
			img, err := store.Create(ctx, logger, handle, image.Spec{URI: uris[i]})
			Expect(err).NotTo(HaveOccurred())
			Expect(blobOf(img)).To(Equal(content(i)))
			for _, l := range layerDirs(dir) {
				if l != keptLayer[0] && !contains(seen, l) {
					seen = append(seen, l)
				}
			}
			Expect(store.Destroy(logger, handle)).To(Succeed())
		}

		// The oldest one went first; the running container's layer, the
		// oldest of all, and the newest stay.
		Expect(layerDirs(dir)).To(ConsistOf(keptLayer[0], seen[len(seen)-1]))
		Expect(metricValue(reg, "garden_image_layer_evictions_total")).To(Equal(float64(images - 2)))
		Expect(metricValue(reg, "garden_image_layer_cache_bytes")).To(And(
			BeNumerically(">=", 2*layerSize), BeNumerically("<=", 5*layerSize/2)))
		Expect(blobOf(kept)).To(Equal(content(0)), "the running container still reads its layer")

		// An evicted image is simply pulled again.
		img, err := store.Create(ctx, logger, "again", image.Spec{URI: uris[1]})
		Expect(err).NotTo(HaveOccurred())
		Expect(blobOf(img)).To(Equal(content(1)))
	})

	It("counts the layers found at start and evicts from them", func() {
		for i := range 2 {
			_, err := store.Create(ctx, logger, fmt.Sprintf("c%d", i), image.Spec{URI: uris[i]})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(store.Cleanup(logger)).To(Succeed())
		restarted, err := image.NewStore(logger, image.StoreConfig{Dir: dir, InsecureRegistries: []string{registryHost}, LayerCacheMaxBytes: 5 * layerSize / 2})
		Expect(err).NotTo(HaveOccurred())
		r := prometheus.NewRegistry()
		r.MustRegister(restarted.Collectors()...)
		Expect(metricValue(r, "garden_image_layer_cache_bytes")).To(BeNumerically(">=", 2*layerSize))
		_, err = restarted.Create(ctx, logger, "c2", image.Spec{URI: uris[2]})
		Expect(err).NotTo(HaveOccurred())
		Expect(layerDirs(dir)).To(HaveLen(2))
		Expect(metricValue(r, "garden_image_layer_evictions_total")).To(Equal(1.0))
		Expect(restarted.Cleanup(logger)).To(Succeed())
	})

	It("never breaks a pull racing an eviction", func() {
		// A cache that holds one layer and a bit: every create of another
		// image evicts whatever is idle, often the layer another worker is
		// about to use. Four workers share three images.
		tight, err := image.NewStore(logger, image.StoreConfig{Dir: dir, InsecureRegistries: []string{registryHost}, LayerCacheMaxBytes: 3 * layerSize / 2})
		Expect(err).NotTo(HaveOccurred())
		tightReg := prometheus.NewRegistry()
		tightReg.MustRegister(tight.Collectors()...)
		const workers, rounds = 4, 30
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for n := range rounds {
					i := (w + n) % 3
					handle := fmt.Sprintf("w%d-%d", w, n)
					img, err := tight.Create(ctx, logger, handle, image.Spec{URI: uris[i]})
					if err != nil {
						errs <- fmt.Errorf("%s from image %d: %w", handle, i, err)
						continue
					}
					data, err := os.ReadFile(filepath.Join(img.RootFSPath, "blob"))
					if err != nil || !bytes.Equal(data, content(i)) {
						errs <- fmt.Errorf("%s: image %d's rootfs reads wrong (%v)", handle, i, err)
					}
					if err := tight.Destroy(logger, handle); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		Expect(all).To(BeEmpty())
		Expect(metricValue(tightReg, "garden_image_layer_evictions_total")).To(BeNumerically(">", 10))
		Expect(metricValue(tightReg, "garden_image_layer_cache_bytes")).To(BeNumerically("<=", 3*layerSize/2))
	})
})

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
