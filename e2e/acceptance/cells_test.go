//go:build e2e

package acceptance_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Each spec here breaks the cluster; the next spec gets a fresh one.
var _ = Describe("Cells", func() {
	It("evacuating keeps an app routable until its replacement runs elsewhere", func() {
		g := guid("evac")
		desire(appJSON(g, 1))
		before, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		cell := before[0].CellID

		var ok, failed atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := w.Get(g+".test", "/")
				if err == nil && resp.Status == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		defer func() { close(stop); wg.Wait() }()

		resp, err := w.Evacuate(cellIndex(cell))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(BeNumerically("<", 300), string(resp.Body))
		Eventually(func(g2 Gomega) {
			running, err := w.RunningIndices(g)
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(running).To(HaveKey(0))
			g2.Expect(running[0].CellID).NotTo(Equal(cell))
		}, 60*time.Second).Should(Succeed())
		Eventually(func() (int, error) {
			list, err := w.ActualLRPs(g)
			return len(list), err
		}, 30*time.Second).Should(Equal(1), "the evacuating copy goes once the replacement runs")
		time.Sleep(500 * time.Millisecond) // a few requests against the replacement alone
		Expect(failed.Load()).To(BeZero(), "%d requests failed, %d answered", failed.Load(), ok.Load())
		Expect(ok.Load()).To(BeNumerically(">", 10))
	})

	It("losing a cell: its instances run again elsewhere within seconds, and the rest stays up", func() {
		g := guid("lose")
		desire(appJSON(g, 3))
		running, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		lost := running[0].CellID
		Expect(w.KillCell(cellIndex(lost))).To(Succeed())
		killed := time.Now()
		direct := &http.Client{Timeout: 2 * time.Second}
		_, err = direct.Get(fmt.Sprintf("http://%s:%d/", running[0].Address, running[0].Ports[0].HostPort))
		Expect(err).To(HaveOccurred(), "the lost cell's container is gone")
		Eventually(func(g2 Gomega) {
			running, err := w.RunningIndices(g)
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(running).To(HaveLen(3))
			for _, a := range running {
				g2.Expect(a.CellID).NotTo(Equal(lost))
			}
		}, 30*time.Second).Should(Succeed())
		Expect(time.Since(killed)).To(BeNumerically("<", 20*time.Second))
		Expect(w.Running()).To(BeTrue(), "diego up survives the loss of a cell")
		cells, err := w.Cells()
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(2))
		Eventually(func() map[int]bool { return answering(g+".test", 9) }, 10*time.Second).
			Should(Equal(map[int]bool{0: true, 1: true, 2: true}))
	})

	It("losing a cell costs no HTTP request through the router", func() {
		g := guid("noloss")
		desire(appJSON(g, 3))
		Eventually(func() map[int]bool { return answering(g+".test", 9) }, 10*time.Second).Should(HaveLen(3))
		running, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())

		var ok, failed atomic.Int64
		var lastFailure atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := w.Get(g+".test", "/")
					switch {
					case err != nil:
						failed.Add(1)
						lastFailure.Store(err.Error())
					case resp.Status != http.StatusOK:
						failed.Add(1)
						lastFailure.Store(fmt.Sprintf("%d %s", resp.Status, resp.Body))
					default:
						ok.Add(1)
					}
				}
			}()
		}
		time.Sleep(time.Second)
		Expect(w.KillCell(cellIndex(running[1].CellID))).To(Succeed())
		Eventually(runningCount(g), 30*time.Second).Should(Equal(3), func() string { return dumpActuals(g) })
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		Expect(failed.Load()).To(BeZero(), "%d of %d requests failed, last: %v", failed.Load(), failed.Load()+ok.Load(), lastFailure.Load())
	})

	It("diego up stops on SIGINT leaving no process and no mount behind", func() {
		g := guid("shutdown")
		desire(appJSON(g, 3))
		post("/v1/tasks", taskJSON(guid("sleeper"), run("/bin/sleep", "600")), http.StatusCreated)
		Expect(w.Stop()).To(Succeed())
	})
})

// dumpActuals renders guid's actual LRPs for a failure message.
func dumpActuals(guid string) string {
	list, err := w.ActualLRPs(guid)
	if err != nil {
		return err.Error()
	}
	data, _ := json.MarshalIndent(list, "", "  ")
	return string(data)
}
