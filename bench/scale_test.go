package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/diego-runtime/diego/internal/benchreport"
)

// Targets from the issue for scaling one app from 1 to 300 instances on 3 cells.
const (
	scaleInstances     = 300
	scaleCells         = 3
	scaleTarget        = 20.0 // s until all 300 are routable
	scaleFloorRatio    = 2.0  // routable time / raw runc floor
	floorParallelism   = 8
	scaleTimeout       = 5 * time.Minute
	routerProbeWorkers = 2
)

// BenchmarkScale scales the test app from 1 to 300 instances on a 3-cell
// cluster and measures the time until all 300 are RUNNING and until the router
// has served a request from each of them; then, in the same run, the floor:
// raw `runc run -d` of 300 equivalent bundles.
func BenchmarkScale(b *testing.B) {
	for range b.N {
		benchScale(b)
	}
}

func benchScale(b *testing.B) {
	w := startWorld(b, scaleCells, nil)
	stopped := false
	defer func() {
		if !stopped {
			w.stop()
		}
	}()
	const app = "scale"
	w.createApp(app, 1)
	_, err := w.waitRunning(app, 1, nil, time.Now(), 2*time.Minute)
	must(b, err)

	ctx, cancel := context.WithTimeout(context.Background(), scaleTimeout)
	defer cancel()
	start := time.Now()
	must(b, w.scale(app, scaleInstances))

	// Probe the router all along: distinct instance guids seen.
	var mu sync.Mutex
	seen := map[string]bool{}
	var routable time.Duration
	allSeen := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: routerProbeWorkers}}
	for range routerProbeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				guid, status, err := routerGet(ctx, client, w.cluster.Addresses.Router, app)
				if err == nil && status == http.StatusOK && guid != "" {
					mu.Lock()
					if !seen[guid] {
						seen[guid] = true
						if len(seen) == scaleInstances {
							routable = time.Since(start)
							close(allSeen)
						}
					}
					done := len(seen) >= scaleInstances
					mu.Unlock()
					if done {
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	allRunning, runErr := w.waitRunning(app, scaleInstances, nil, start, scaleTimeout)
	select {
	case <-allSeen:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	mu.Lock()
	distinct := len(seen)
	mu.Unlock()

	if runErr != nil {
		b.Logf("scale: %v", runErr)
		allRunning = scaleTimeout
	}
	if distinct < scaleInstances {
		b.Logf("scale: the router served %d distinct instances of %d within %s", distinct, scaleInstances, scaleTimeout)
		routable = scaleTimeout
	}
	name := fmt.Sprintf("1 -> %d instances on %d cells", scaleInstances, scaleCells)
	benchreport.Below("scale", name+": all RUNNING", allRunning.Seconds(), "s", scaleTarget)
	benchreport.Below("scale", name+": all routable", routable.Seconds(), "s", scaleTarget)

	// The floor, once the cluster is gone, so it has the machine the cluster had.
	w.stop()
	stopped = true
	floor := rawRuncFloor(b, filepath.Join(w.cfg.BinDir, "httpapp"), scaleInstances, floorParallelism)
	benchreport.Baseline("scale", fmt.Sprintf("raw runc run -d of %d bundles, %d at a time", scaleInstances, floorParallelism), floor.Seconds(), "s")
	benchreport.Below("scale", "all routable / raw runc floor", routable.Seconds()/floor.Seconds(), "x", scaleFloorRatio)
}
