package linux_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// loopsBackedUnder is imagetest.LoopsBackedUnder for a spec.
func loopsBackedUnder(dir string) []string {
	GinkgoHelper()
	found, err := imagetest.LoopsBackedUnder(dir)
	Expect(err).NotTo(HaveOccurred())
	return found
}

var _ = Describe("Containers' disks over many creates and destroys", func() {
	ctx := context.Background()
	const mib = 1 << 20

	It("leaves no mount, loop device or file of a destroyed container, and keeps at most a bounded pool ready", func() {
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for i := 0; i < 6; i++ {
					h := fmt.Sprintf("disk-churn-%d-%d", w, i)
					_, err := backend.Create(ctx, garden.ContainerSpec{Handle: h, Image: garden.ImageRef{URI: busyboxURI}, Limits: garden.Limits{DiskBytes: uint64(16+16*(i%2)) * mib}})
					Expect(err).NotTo(HaveOccurred())
					Expect(backend.Destroy(ctx, h)).To(Succeed())
				}
			}()
		}
		wg.Wait()
		store.WaitIdle()

		storeDir := filepath.Join(stateDir, "img")
		entries, err := os.ReadDir(filepath.Join(storeDir, "containers"))
		Expect(err).NotTo(HaveOccurred())
		for _, e := range entries {
			Expect(e.Name()).NotTo(HavePrefix("disk-churn-"))
		}
		mounts, err := os.ReadFile("/proc/self/mountinfo")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(mounts)).NotTo(ContainSubstring("disk-churn-"))
		// What is left is the pool: at most its depth of each of the few
		// sizes it keeps, with no name on disk.
		Expect(len(loopsBackedUnder(storeDir))).To(BeNumerically("<=", 3*image.DefaultDiskPoolDepth+len(mustList())))
		err = filepath.WalkDir(filepath.Join(storeDir, "disks"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				Expect(filepath.Base(path)).To(MatchRegexp(`^\d+\.img$`), "only one formatted template per size")
			}
			return err
		})
		Expect(err).NotTo(HaveOccurred())
	})
})

// mustList is the containers the suite holds right now (each has a disk).
func mustList() []string {
	GinkgoHelper()
	handles, err := backend.List(context.Background(), nil)
	Expect(err).NotTo(HaveOccurred())
	return handles
}
