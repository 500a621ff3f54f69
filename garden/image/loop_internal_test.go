package image

import (
	"os"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

var _ = Describe("attachLoop", func() {
	It("attaches many files at once, as the gardens of several cells do under a burst, without one failing", func() {
		const n = 64
		dir := GinkgoT().TempDir()
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
			devs = map[string]bool{}
			fds  []int
		)
		for range n {
			f, err := os.CreateTemp(dir, "disk-")
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Truncate(1 << 20)).To(Succeed())
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer f.Close()
				fd, dev, err := attachLoop(f)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				devs[dev] = true
				fds = append(fds, fd)
			}()
		}
		wg.Wait()
		DeferCleanup(func() {
			for _, fd := range fds {
				unix.Close(fd) // auto-clearing: the device goes with it
			}
		})
		Expect(errs).To(BeEmpty())
		Expect(devs).To(HaveLen(n), "each file has a device of its own")
	})
})
