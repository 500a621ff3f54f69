package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/diego-runtime/diego/internal/benchreport"
)

// Targets from issue 17 for scaling one app on 3 cells of this machine.
const (
	scaleCells         = 3
	scaleTarget        = 10.0 // s until all 300 are routable
	scaleFloorRatio    = 1.5  // routable time / raw runc floor of the same count
	scale1000Target    = 40.0 // s until all 1,000 are routable
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
		benchScale(b, 300, scaleTarget, scaleFloorRatio)
	}
}

// BenchmarkScale1000 is BenchmarkScale to 1,000 instances (the cells' default
// capacity holds them), with the control plane's CPU per instance.
func BenchmarkScale1000(b *testing.B) {
	for range b.N {
		benchScale(b, 1000, scale1000Target, 0)
	}
}

// benchScale records its figures under "scale"; ratioTarget 0 reports the
// ratio to the floor as a baseline.
func benchScale(b *testing.B, instances int, target, ratioTarget float64) {
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

	cpuBefore := sampleCPU()
	start := time.Now()
	must(b, w.scale(app, instances))
	probe := probeRoutable(w, app, instances, start, scaleTimeout)
	allRunning, runErr := w.waitRunning(app, instances, nil, start, scaleTimeout)
	routable, distinct := probe.wait()
	cpu := sampleCPU().since(cpuBefore)

	if runErr != nil {
		b.Logf("scale: %v", runErr)
		allRunning = scaleTimeout
	}
	if distinct < instances {
		b.Logf("scale: the router served %d distinct instances of %d within %s", distinct, instances, scaleTimeout)
		routable = scaleTimeout
	}
	name := fmt.Sprintf("1 -> %d instances on %d cells", instances, scaleCells)
	benchreport.Below("scale", name+": all RUNNING", allRunning.Seconds(), "s", target)
	benchreport.Below("scale", name+": all routable", routable.Seconds(), "s", target)
	benchreport.Baseline("scale", name+": control plane CPU per instance (daemons, etcd, NATS, the probe; not runc or the apps)",
		ms(cpu.controlPlane())/float64(instances-1), "ms")
	// On stderr: a benchmark's own log is cut to a few lines.
	fmt.Fprintf(os.Stderr, "scale 1 -> %d: CPU per instance by process:\n%s", instances, cpu.perInstance(instances-1))

	// The floors, once the cluster is gone, so they have the machine the cluster had.
	w.stop()
	stopped = true
	httpapp := filepath.Join(w.cfg.BinDir, "httpapp")
	floor := rawRuncFloor(b, httpapp, instances, floorParallelism)
	benchreport.Baseline("scale", fmt.Sprintf("raw runc run -d of %d bundles, %d at a time", instances, floorParallelism), floor.Seconds(), "s")
	ratio := fmt.Sprintf("1 -> %d: all routable / raw runc floor", instances)
	if ratioTarget > 0 {
		benchreport.Below("scale", ratio, routable.Seconds()/floor.Seconds(), "x", ratioTarget)
	} else {
		benchreport.Baseline("scale", ratio, routable.Seconds()/floor.Seconds(), "x")
	}
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
