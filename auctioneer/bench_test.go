package auctioneer_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/auctioneer"
	"github.com/diego-runtime/diego/auctioneer/simulation"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

const benchArea = "auction"

func benchAuctioneer(cl *simulation.Cluster) *auctioneer.Auctioneer {
	return &auctioneer.Auctioneer{
		Logger:      lager.NewLogger("bench"), // no sinks: logging off
		Clock:       clock.NewClock(),
		BBS:         simulation.NewBBS(cl),
		Scheduler:   auctioneer.Scheduler{Weights: auctioneer.DefaultWeights()},
		HTTP:        &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, MaxIdleConns: 4096}},
		CellTimeout: 10 * time.Second,
	}
}

// scaleRuns is how many fresh clusters the 1->300 figure takes the median of,
// so that one run slowed by a busy machine does not decide it.
const scaleRuns = 5

// BenchmarkScaleOneAppTo300 scales one app from 1 to 300 instances on 100
// simulated cells in 3 zones, through the real auction over HTTP.
func BenchmarkScaleOneAppTo300(b *testing.B) {
	var times, cpus []time.Duration
	var perCell, perZone, inZone int
	for n := 0; n < b.N*scaleRuns; n++ {
		cl := simulation.NewCluster(simulation.EvenCells(100, 3, repapi.Resources{MemoryMB: 16384, DiskMB: 65536, Containers: 250}), true)
		a := benchAuctioneer(cl)
		ctx := context.Background()
		a.RunAuction(ctx, auctioneer.Batch{LRPs: auctioneer.LRPStarts([]*models.LRPStartRequest{startRequest("app", 256, 0)})})

		start, cpuStart := time.Now(), cpuTime()
		r := a.RunAuction(ctx, auctioneer.Batch{LRPs: auctioneer.LRPStarts([]*models.LRPStartRequest{startRequest("app", 256, indices(1, 300)...)})})
		times = append(times, time.Since(start))
		cpus = append(cpus, cpuTime()-cpuStart)
		if lrps, _ := r.Placed(); lrps != 299 || len(r.FailedLRPs) > 0 || r.Refused > 0 {
			b.Fatalf("placed %d of 299, %d failed, %d refused", lrps, len(r.FailedLRPs), r.Refused)
		}
		counts := cl.InstancesPerCell("app")
		perCell = max(perCell, simulation.Spread(counts))
		perZone = max(perZone, simulation.Spread(cl.InstancesPerZone("app")))
		for z := 1; z <= 3; z++ {
			zc := map[string]int{}
			for _, c := range cl.Cells {
				if c.Zone() == fmt.Sprintf("z%d", z) {
					zc[c.ID()] = counts[c.ID()]
				}
			}
			inZone = max(inZone, simulation.Spread(zc))
		}
		cl.Close()
	}
	benchreport.Below(benchArea, "1->300 instances on 100 cells: time to place, median of 5 (HTTP)", ms(median(times)), "ms", 100)
	benchreport.Baseline(benchArea, "1->300: CPU time, median of 5, reps included (HTTP)", ms(median(cpus)), "ms")
	benchreport.Below(benchArea, "1->300: max-min instances per zone", float64(perZone), "instances", 2)
	benchreport.Below(benchArea, "1->300: max-min instances per cell (all cells)", float64(perCell), "instances", 2)
	benchreport.Below(benchArea, "1->300: max-min instances per cell within a zone", float64(inZone), "instances", 2)
}

func median(ds []time.Duration) time.Duration {
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[len(sorted)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

const (
	bigCells        = 1000
	bigApps         = 10000
	bigInstances    = 10
	bigAppsPerBatch = 1000
)

var bigCapacity = repapi.Resources{MemoryMB: 32768, DiskMB: 131072, Containers: 250}

// bigBatches are 10,000 apps of 10 instances, 1,000 apps per batch, with
// memory of 64, 128, 256 or 512 MB.
func bigBatches() []auctioneer.Batch {
	var out []auctioneer.Batch
	for first := 0; first < bigApps; first += bigAppsPerBatch {
		var reqs []*models.LRPStartRequest
		for app := first; app < first+bigAppsPerBatch; app++ {
			reqs = append(reqs, &models.LRPStartRequest{
				ProcessGuid: fmt.Sprintf("app-%05d", app), Domain: "bench", Indices: indices(0, bigInstances),
				Resource:            models.Resource{MemoryMB: 64 << (app % 4), DiskMB: 1024},
				PlacementConstraint: models.PlacementConstraint{RootFS: dockerImage},
			})
		}
		out = append(out, auctioneer.Batch{LRPs: auctioneer.LRPStarts(reqs)})
	}
	return out
}

// memoryStdDevPercent is the standard deviation of memory used across cells,
// as a percentage of one cell's memory.
func memoryStdDevPercent(cl *simulation.Cluster) float64 {
	var sum, sq float64
	for _, c := range cl.Cells {
		u := float64(c.Used().MemoryMB)
		sum += u
		sq += u * u
	}
	n := float64(len(cl.Cells))
	mean := sum / n
	return math.Sqrt(sq/n-mean*mean) / float64(bigCapacity.MemoryMB) * 100
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHundredThousandInstancesInMemory places 100,000 instances on 1,000
// cells in batches of 10,000 with the scheduler alone: cell states are read
// and work applied in memory, so the figure leaves the network out.
func BenchmarkHundredThousandInstancesInMemory(b *testing.B) {
	for n := 0; n < b.N; n++ {
		cl := simulation.NewCluster(simulation.EvenCells(bigCells, 3, bigCapacity), false)
		sched := auctioneer.Scheduler{Weights: auctioneer.DefaultWeights()}
		batches := bigBatches()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peakHeap uint64
		var elapsed time.Duration
		placed := 0
		cpuStart := cpuTime()
		for _, batch := range batches {
			start := time.Now()
			res, refused := cl.AuctionInMemory(sched, batch)
			elapsed += time.Since(start)
			lrps, _ := res.Placed()
			placed += lrps - refused
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapAlloc)
		}
		cpu := cpuTime() - cpuStart
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if placed != bigApps*bigInstances {
			b.Fatalf("in memory: placed %d of %d", placed, bigApps*bigInstances)
		}
		benchreport.Above(benchArea, "100k instances on 1,000 cells: throughput (in memory)", float64(placed)/elapsed.Seconds(), "instances/s", 10000)
		benchreport.Baseline(benchArea, "100k instances: instances per CPU-second (in memory)", float64(placed)/cpu.Seconds(), "instances/s")
		benchreport.Below(benchArea, "100k instances: memory std dev across cells (in memory)", memoryStdDevPercent(cl), "% of cell", 2)
		benchreport.Baseline(benchArea, "100k instances: allocated per 10k-instance batch", float64(after.TotalAlloc-before.TotalAlloc)/float64(len(batches))/(1<<20), "MB")
		benchreport.Baseline(benchArea, "100k instances: peak heap incl. simulated cells", float64(peakHeap)/(1<<20), "MB")
	}
}

// BenchmarkHundredThousandInstancesHTTP is the same placement through the real
// auction: GET /state from 1,000 simulated reps, schedule, POST /work. The
// simulated reps run in the same process and share its CPU.
func BenchmarkHundredThousandInstancesHTTP(b *testing.B) {
	for n := 0; n < b.N; n++ {
		cl := simulation.NewCluster(simulation.EvenCells(bigCells, 3, bigCapacity), true)
		a := benchAuctioneer(cl)
		ctx := context.Background()
		batches := bigBatches()
		// Warm the connections so the figure is the auction, not TCP setup.
		a.RunAuction(ctx, auctioneer.Batch{})
		var elapsed time.Duration
		placed := 0
		cpuStart := cpuTime()
		for _, batch := range batches {
			start := time.Now()
			r := a.RunAuction(ctx, batch)
			elapsed += time.Since(start)
			lrps, _ := r.Placed()
			placed += lrps - r.Refused
		}
		cpu := cpuTime() - cpuStart
		benchreport.Above(benchArea, "100k instances on 1,000 cells: throughput (HTTP)", float64(placed)/elapsed.Seconds(), "instances/s", 10000)
		benchreport.Baseline(benchArea, "100k instances: instances per CPU-second, reps included (HTTP)", float64(placed)/cpu.Seconds(), "instances/s")
		benchreport.Below(benchArea, "100k instances: memory std dev across cells (HTTP)", memoryStdDevPercent(cl), "% of cell", 2)
		if placed != bigApps*bigInstances {
			b.Errorf("over HTTP: placed %d of %d", placed, bigApps*bigInstances)
		}
		cl.Close()
	}
}
