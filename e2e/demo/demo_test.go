//go:build e2e

package demo_test

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("diego demo, then diego scale demo 300, on a default cluster", Ordered, func() {
	It("runs the demo", func() {
		out, errOut, code := w.CLI("demo", "--registry", w.RegistryHost)
		Expect(code).To(Equal(0), out+errOut)
	})

	It("scales it to 300 instances, every one served through the router", func() {
		out, errOut, code := w.CLI("scale", "demo", "300")
		Expect(code).To(Equal(0), lastLines(out+errOut))
		Expect(out).To(ContainSubstring("300/300"))

		// Distinct instance guids served, from a few clients at once.
		var mu sync.Mutex
		seen := map[string]bool{}
		Eventually(func() int {
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 50 {
						if in, err := w.GetInstance("demo.localhost"); err == nil && in.Guid != "" {
							mu.Lock()
							seen[in.Guid] = true
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			return len(seen)
		}, 2*time.Minute, 0).Should(Equal(300))
	})

	It("gives up on a scale the cluster cannot fit, naming the reason, instead of waiting out its timeout", func() {
		start := time.Now()
		out, errOut, code := w.CLI("scale", "demo", "2000") // three default cells hold 1,200
		took := time.Since(start)
		Expect(code).NotTo(Equal(0), lastLines(out+errOut))
		Expect(out + errOut).To(ContainSubstring("insufficient resources"))
		// How soon is make bench's figure (target 5 s, BenchmarkDemoScale); here,
		// only that the wait ends long before its 5-minute timeout.
		Expect(took).To(BeNumerically("<", time.Minute), "took %s", took)
		GinkgoWriter.Printf("gave up after %s\n", took)
	})
})

func lastLines(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
