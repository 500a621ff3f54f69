package bench

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/diego-runtime/diego/cluster"
	e2eworld "github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// The scale sequence of the drain benchmark and its load.
const (
	drainRate    = 200 // requests/s through the router
	drainTimeout = 2 * time.Minute
	drainSettle  = 2 * time.Second // load kept up between the steps
)

var drainSteps = []int{10, 2, 10, 0}

// BenchmarkScaleDrain scales an app 10 -> 2 -> 10 -> 0 under a steady 200
// requests/s through a router that makes one attempt per request
// (max_attempts 1), and counts the requests that failed: any that reached an
// instance after it stopped. Instances leave the routes before they stop, so
// the target is 0. At 0 the router's 404 for the route is the right answer.
func BenchmarkScaleDrain(b *testing.B) {
	for range b.N {
		benchScaleDrain(b)
	}
}

func benchScaleDrain(b *testing.B) {
	w := startWorld(b, 3, func(cfg *cluster.Config) { cfg.RouterMaxAttempts = 1 })
	defer w.stop()
	const app = "drain"
	w.createApp(app, drainSteps[0])
	_, err := w.waitRunning(app, drainSteps[0], nil, time.Now(), drainTimeout)
	must(b, err)
	// Every instance routed before the load starts.
	client := &http.Client{Timeout: 10 * time.Second}
	seen := map[string]bool{}
	for deadline := time.Now().Add(time.Minute); len(seen) < drainSteps[0] && time.Now().Before(deadline); {
		if guid, status, err := routerGet(context.Background(), client, w.cluster.Addresses.Router, app); err == nil && status == http.StatusOK {
			seen[guid] = true
		}
	}

	load := e2eworld.StartLoad(w.cluster.Addresses.Router, app+".localhost", drainRate)
	defer load.Stop()
	time.Sleep(drainSettle)
	for _, n := range drainSteps[1:] {
		if n == 0 {
			load.AcceptUnknownRoute()
		}
		must(b, w.scale(app, n))
		must(b, w.waitInstances(app, n, drainTimeout))
		time.Sleep(drainSettle)
	}
	result := load.Stop()
	b.Logf("scale-drain: %d requests sent, %d failed (first: %v)", result.Sent, result.Failed, result.FirstFailures)

	name := fmt.Sprintf("scale 10 -> 2 -> 10 -> 0, %d req/s, router max_attempts 1", drainRate)
	benchreport.Record(benchreport.Figure{Area: "routing", Name: name + ": failed requests", Value: float64(result.Failed),
		Unit: "requests", Target: "0 requests", Met: result.Failed == 0})
	benchreport.Baseline("routing", name+": requests sent", float64(result.Sent), "requests")
}

// waitInstances polls until the app has exactly n instances, all RUNNING
// (so a scale-down has removed every record above n).
func (w *world) waitInstances(name string, n int, timeout time.Duration) error {
	last := -1
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		lrps, err := w.actualLRPs(name)
		if err != nil {
			continue
		}
		last = len(lrps)
		if last == n && running(lrps, n, nil) == n {
			return nil
		}
	}
	return fmt.Errorf("%s: %d instance records after %s, want %d RUNNING", name, last, timeout, n)
}
