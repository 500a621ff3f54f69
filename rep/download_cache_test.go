package rep_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

var _ = Describe("A cell's download cache", func() {
	It("fetches a cache_key once for 20 instances whose setup downloads it, and all 20 run", func() {
		const instances = 20
		var requests atomic.Int32
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			// Slow enough that the instances' downloads overlap.
			time.Sleep(200 * time.Millisecond)
			w.Write([]byte("#!/bin/sh\nexec sleep 300\n"))
		}))
		DeferCleanup(server.Close)

		c := startCell(cellOptions{id: "cell-cache", withProcessor: true})
		lrp := &models.DesiredLRP{
			ProcessGuid: "cached", Domain: "rep-tests", Instances: instances, RootFS: tg.BusyboxURI,
			Setup: models.Download(models.DownloadAction{From: server.URL + "/droplet", To: "/app/run.sh", CacheKey: "droplet-v1"}),
			// Exits at once, a crash, unless the downloaded script is there.
			Action:   &models.Action{Run: &models.RunAction{Path: "/app/run.sh"}},
			MemoryMB: 32, DiskMB: 32,
		}
		Expect(db.DesireLRP(context.Background(), logger, lrp)).To(Succeed())
		DeferCleanup(func() { _ = db.RemoveDesiredLRP(context.Background(), logger, "cached") })

		var work repapi.Work
		for i := range instances {
			item := lrpWork("cached", i).LRPs[0]
			work.LRPs = append(work.LRPs, item)
		}
		failed, err := repapi.NewClient(http.DefaultClient, c.url).Perform(context.Background(), work)
		Expect(err).NotTo(HaveOccurred())
		Expect(failed.LRPs).To(BeEmpty())

		running := func() int {
			list, err := db.ActualLRPs(context.Background(), logger, models.ActualLRPFilter{ProcessGuid: "cached"})
			Expect(err).NotTo(HaveOccurred())
			n := 0
			for _, a := range list {
				if a.State == models.ActualLRPStateRunning && a.CrashCount == 0 && a.CellID == "cell-cache" {
					n++
				}
			}
			return n
		}
		Eventually(running, 3*time.Minute, 500*time.Millisecond).Should(Equal(instances))
		Consistently(running, 2*time.Second, 500*time.Millisecond).Should(Equal(instances), "none crashes: each has the script")
		Expect(requests.Load()).To(BeEquivalentTo(1))
	})
})
