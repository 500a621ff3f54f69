//go:build e2e

package acceptance_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Downloads with a cache_key", func() {
	It("are fetched once per cell: 20 instances over the cells make one request per cell holding them", func() {
		var requests atomic.Int32
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			time.Sleep(200 * time.Millisecond) // the instances' downloads overlap
			w.Write([]byte("#!/bin/sh\nexec /app/httpapp\n"))
		}))
		DeferCleanup(server.Close)

		g := guid("cached")
		// The key is new to every run: a cell's cache outlives its rep, and
		// diego up's cells keep it outside the cluster's state directory.
		key := fmt.Sprintf("start-%s-%d", g, time.Now().UnixNano())
		download := J{"download": J{"artifact": "start script", "from": server.URL + "/start.sh", "to": "/tmp/start.sh", "cache_key": key}}
		desire(appJSON(g, 20, J{"setup": download, "action": run("/tmp/start.sh")}))

		running, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		cells := map[string]bool{}
		for _, a := range running {
			cells[a.CellID] = true
		}
		Expect(requests.Load()).To(BeEquivalentTo(len(cells)), "one fetch per cell, whatever its instance count")
		Expect(len(cells)).To(BeNumerically("<", 20))
	})
})
