package linux_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"code.cloudfoundry.org/clock"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/diego-runtime/diego/garden/linux"
)

// Issue 14, item 6, with real runc containers: a garden whose layer cache
// holds the running container's image and about a layer and a half more.
var _ = Describe("a garden whose layer cache is full", func() {
	const images, blobSize = 5, 1 << 20
	ctx := context.Background()

	It("evicts the oldest unused layers while a running container keeps its own and still runs", func() {
		base := imagetest.Must(imagetest.BusyboxImage())
		uris := make([]string, images)
		for i := range images {
			layer, err := imagetest.Layer(imagetest.File("blob", 0o644, bytes.Repeat([]byte{byte('a' + i)}, blobSize)))
			Expect(err).NotTo(HaveOccurred())
			img, err := mutate.AppendLayers(base, layer)
			Expect(err).NotTo(HaveOccurred())
			Expect(imagetest.Push(registry.Host, fmt.Sprintf("cache-%d", i), "latest", img)).To(Succeed())
			uris[i] = fmt.Sprintf("docker://%s/cache-%d#latest", registry.Host, i)
		}

		// What busybox and one blob layer take, shifted as the garden will.
		storeDir := filepath.Join(stateDir, "img3")
		probe, err := image.NewStore(logger, image.StoreConfig{Dir: storeDir, InsecureRegistries: []string{registry.Host}})
		Expect(err).NotTo(HaveOccurred())
		mapping := []image.IDMapping{{ContainerID: 0, HostID: cfg.UIDMapStart, Size: 65536}}
		_, err = probe.Create(ctx, logger, "probe", image.Spec{URI: uris[0], UIDMappings: mapping, GIDMappings: mapping})
		Expect(err).NotTo(HaveOccurred())
		Expect(probe.Cleanup(logger)).To(Succeed())
		oneImage := dirSize(filepath.Join(storeDir, "layers"))
		Expect(os.RemoveAll(storeDir)).To(Succeed())

		store, err := image.NewStore(logger, image.StoreConfig{Dir: storeDir, InsecureRegistries: []string{registry.Host}, LayerCacheMaxBytes: oneImage + 3*blobSize/2})
		Expect(err).NotTo(HaveOccurred())
		c := linux.DefaultConfig()
		c.InitPath = cfg.InitPath
		c.StateDir = filepath.Join(stateDir, "g3")
		c.BridgeName = "dge"
		c.Subnet = "10.254.42.0/24"
		c.PortRangeStart, c.PortRangeEnd = 62410, 62419
		c.UIDMapStart = cfg.UIDMapStart
		b, err := linux.New(logger, clock.NewClock(), c, store)
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Start(ctx)).To(Succeed())
		DeferCleanup(func() {
			Expect(b.Shutdown(ctx)).To(Succeed())
			Expect(store.Cleanup(logger)).To(Succeed())
			Expect(os.RemoveAll(storeDir)).To(Succeed())
		})
		catBlob := func(handle string) string {
			GinkgoHelper()
			var out bytes.Buffer
			p, err := b.Run(ctx, handle, garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", "head -c 4 /blob"}}, garden.ProcessIO{Stdout: &out})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Wait()).To(Equal(0))
			return out.String()
		}

		running, err := b.Create(ctx, garden.ContainerSpec{Handle: "running", Image: garden.ImageRef{URI: uris[0]}})
		Expect(err).NotTo(HaveOccurred())
		sleeper, err := b.Run(ctx, running.Handle, garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"1000"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		runningLayers := layerNames(storeDir)
		Expect(runningLayers).To(HaveLen(2))

		// Each passing container's image, used once and destroyed: the
		// layers it brought in (its blob layer; with per-container id ranges
		// its busybox layer too).
		introduced := make([][]string, images)
		for i := 1; i < images; i++ {
			before := layerNames(storeDir)
			handle := fmt.Sprintf("passing-%d", i)
			_, err := b.Create(ctx, garden.ContainerSpec{Handle: handle, Image: garden.ImageRef{URI: uris[i]}})
			Expect(err).NotTo(HaveOccurred())
			Expect(catBlob(handle)).To(Equal(string(bytes.Repeat([]byte{byte('a' + i)}, 4))))
			for _, l := range layerNames(storeDir) {
				if !containsName(before, l) {
					introduced[i] = append(introduced[i], l)
				}
			}
			Expect(introduced[i]).NotTo(BeEmpty())
			Expect(b.Destroy(ctx, handle)).To(Succeed())
		}

		left := layerNames(storeDir)
		for _, l := range runningLayers {
			Expect(left).To(ContainElement(l), "the running container's layers stay")
		}
		for _, l := range introduced[1] {
			Expect(left).NotTo(ContainElement(l), "the oldest unused layers went")
		}
		Expect(dirSize(filepath.Join(storeDir, "layers"))).To(BeNumerically("<=", oneImage+3*blobSize/2+8192),
			"the cache is back within its bound (plus the directories of layers/ and empty/)")
		Expect(catBlob(running.Handle)).To(Equal("aaaa"), "the running container still reads its image")
		done := make(chan struct{})
		go func() { defer close(done); _, _ = sleeper.Wait() }()
		Consistently(done, "200ms").ShouldNot(BeClosed(), "its process still runs")
	})
})

// layerNames lists a store's cached layers.
func layerNames(storeDir string) []string {
	GinkgoHelper()
	entries, err := os.ReadDir(filepath.Join(storeDir, "layers"))
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, e := range entries {
		if e.Name() != "empty" {
			names = append(names, e.Name())
		}
	}
	return names
}

func containsName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dirSize is the bytes allocated under dir.
func dirSize(dir string) int64 {
	GinkgoHelper()
	var total int64
	Expect(filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})).To(Succeed())
	return total
}
