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

	start := time.Now()
	must(b, w.scale(app, scaleInstances))
	probe := probeRoutable(w, app, scaleInstances, start, scaleTimeout)
	allRunning, runErr := w.waitRunning(app, scaleInstances, nil, start, scaleTimeout)
	routable, distinct := probe.wait()

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

// routableProbe asks the router for an app all along, from routerProbeWorkers
// clients, until it has seen want distinct instance guids or timeout passes.
type routableProbe struct {
	mu       sync.Mutex
	seen     map[string]bool
	routable time.Duration // since start, once want were seen
	done     chan struct{}
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	timeout  time.Duration
}

func probeRoutable(w *world, app string, want int, start time.Time, timeout time.Duration) *routableProbe {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &routableProbe{seen: map[string]bool{}, done: make(chan struct{}), cancel: cancel, timeout: timeout}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: routerProbeWorkers}}
	for range routerProbeWorkers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for ctx.Err() == nil {
				guid, status, err := routerGet(ctx, client, w.cluster.Addresses.Router, app)
				if err == nil && status == http.StatusOK && guid != "" {
					p.mu.Lock()
					if !p.seen[guid] {
						p.seen[guid] = true
						if len(p.seen) == want {
							p.routable = time.Since(start)
							close(p.done)
						}
					}
					finished := len(p.seen) >= want
					p.mu.Unlock()
					if finished {
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return p
}

// wait returns how long until every instance was served (timeout when not)
// and how many distinct instances the router served.
func (p *routableProbe) wait() (time.Duration, int) {
	p.wg.Wait()
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return p.routable, len(p.seen)
	default:
		return p.timeout, len(p.seen)
	}
}
