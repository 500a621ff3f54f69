package bench

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diego-runtime/diego/cluster"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/models"
)

// Targets from the issue for losing 2 of 10 cells under load.
const (
	chaosCells       = 10
	chaosLost        = 2
	chaosInstances   = 50
	chaosRate        = 200 // requests/s through the router
	chaosPresenceTTL = 5 * time.Second
	chaosRecovery    = 20.0 // s until every lost instance is RUNNING elsewhere
	chaosTimeout     = 2 * time.Minute
	chaosSettle      = 5 * time.Second // load kept up before the loss and after recovery
)

// BenchmarkChaos kills 2 of 10 cells outright (rep, garden and every container
// process SIGKILLed, as if the machines vanished) while a load generator sends
// a steady 200 requests/s through the router: it counts failed requests and
// the time until every lost instance is RUNNING again on another cell.
func BenchmarkChaos(b *testing.B) {
	for range b.N {
		benchChaos(b, "killed", nil, func(w *world, i int) { w.killCell(i) })
	}
}

// BenchmarkChaosPartition is BenchmarkChaos with the 2 cells cut off the
// network instead of killed: every cell runs in its own network namespace
// (cluster.Config.IsolateCells) and the host end of each lost cell's link is
// taken down, so connections to it time out rather than fail fast.
func BenchmarkChaosPartition(b *testing.B) {
	for range b.N {
		benchChaos(b, "cut off the network", func(cfg *cluster.Config) { cfg.IsolateCells = true }, func(w *world, i int) {
			veth := w.cfg.CellNetworkOf(i).HostVeth
			must(b, exec.Command("ip", "link", "set", veth, "down").Run())
			// Reconnected before the cluster stops, so the cell stops cleanly.
			w.onStop = append(w.onStop, func() { _ = exec.Command("ip", "link", "set", veth, "up").Run() })
		})
	}
}

// chaosTune gives the cluster the 5 s presence TTL and heartbeats
// often enough for it.
func chaosTune(cfg *cluster.Config) {
	cfg.PresenceTTL = chaosPresenceTTL
	cfg.HeartbeatInterval = time.Second
	cfg.ConvergenceInterval = 5 * time.Second
}

func benchChaos(b *testing.B, variant string, tune func(*cluster.Config), lose func(w *world, i int)) {
	w := startWorld(b, chaosCells, func(cfg *cluster.Config) {
		chaosTune(cfg)
		if tune != nil {
			tune(cfg)
		}
	})
	defer w.stop()
	const app = "chaos"
	w.createApp(app, chaosInstances)
	_, err := w.waitRunning(app, chaosInstances, nil, time.Now(), chaosTimeout)
	must(b, err)
	// Wait until the router serves every instance, so the loss is the only disturbance.
	client := &http.Client{Timeout: 10 * time.Second}
	seen := map[string]bool{}
	deadline := time.Now().Add(time.Minute)
	for len(seen) < chaosInstances && time.Now().Before(deadline) {
		if guid, status, err := routerGet(context.Background(), client, w.cluster.Addresses.Router, app); err == nil && status == http.StatusOK {
			seen[guid] = true
		}
	}

	load := startLoad(w.cluster.Addresses.Router, app, chaosRate)
	time.Sleep(chaosSettle)

	// Lose the two cells holding the most instances.
	lrps, err := w.actualLRPs(app)
	must(b, err)
	lostCells, lostInstances := busiestCells(lrps, chaosLost)
	b.Logf("losing %v holding %d instances (%s)", lostCells, lostInstances, variant)
	skip := map[string]bool{}
	lossAt := time.Now()
	for _, i := range lostCells {
		lose(w, i)
		skip[w.cfg.CellLayout(i).ID] = true
	}
	recovered, recErr := w.waitRunning(app, chaosInstances, skip, lossAt, chaosTimeout)
	if recErr != nil {
		b.Logf("chaos (%s): %v", variant, recErr)
	}
	time.Sleep(chaosSettle)
	sent, failed, firstFailure := load.stop()
	b.Logf("chaos (%s): %d requests sent, %d failed (first: %v)", variant, sent, failed, firstFailure)

	name := fmt.Sprintf("%d of %d cells %s, %d instances, %d req/s", chaosLost, chaosCells, variant, chaosInstances, chaosRate)
	benchreport.Record(benchreport.Figure{Area: "chaos", Name: name + ": failed requests", Value: float64(failed),
		Unit: "requests", Target: "0 requests", Met: failed == 0})
	benchreport.Baseline("chaos", name+": requests sent", float64(sent), "requests")
	value := recovered.Seconds()
	if recErr != nil {
		value = chaosTimeout.Seconds()
	}
	benchreport.Below("chaos", fmt.Sprintf("%s: lost instances RUNNING elsewhere (presence TTL %s)", name, chaosPresenceTTL), value, "s", chaosRecovery)
}

// busiestCells picks the n cells holding the most RUNNING instances (as
// 0-based cell numbers) and how many instances they hold.
func busiestCells(lrps []*models.ActualLRP, n int) ([]int, int) {
	count := map[string]int{}
	for _, a := range lrps {
		if a.State == models.ActualLRPStateRunning {
			count[a.CellID]++
		}
	}
	var picked []int
	total := 0
	for range n {
		best, bestCount := -1, -1
		for i := range chaosCells {
			id := fmt.Sprintf("cell-%d", i+1)
			used := false
			for _, p := range picked {
				used = used || p == i
			}
			if !used && count[id] > bestCount {
				best, bestCount = i, count[id]
			}
		}
		picked = append(picked, best)
		total += bestCount
	}
	return picked, total
}

// load sends a steady rate of requests through the router, each on its own
// goroutine so that a slow one does not delay the next, and counts failures
// (transport errors and non-2xx answers).
type load struct {
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	sent, failed atomic.Int64
	mu           sync.Mutex
	firstFailure error
}

func startLoad(router, app string, rate int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ticker := time.NewTicker(time.Second / time.Duration(rate))
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			l.sent.Add(1)
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				// Not the load's context: a request under way finishes.
				_, status, err := routerGet(context.Background(), client, router, app)
				if err == nil && (status < 200 || status >= 300) {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if l.firstFailure == nil {
						l.firstFailure = err
					}
					l.mu.Unlock()
				}
			}()
		}
	}()
	return l
}

func (l *load) stop() (sent, failed int64, first error) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent.Load(), l.failed.Load(), l.firstFailure
}
