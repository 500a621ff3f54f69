package rep_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/executor/logstream"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/internal/testgarden"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/rep"
	"github.com/diego-runtime/diego/rep/repapi"
)

// BenchmarkHundredInstances hands one cell 100 instances of the test app in one
// POST /work and measures the time until the BBS shows all of them RUNNING
// (healthy by their TCP check).
func BenchmarkHundredInstances(b *testing.B) {
	const instances = 100
	logger := lager.NewLogger("rep-bench")
	g, err := testgarden.Start(logger, testgarden.Network{
		Bridge: "dgrb", Subnet: "10.254.52.0/24", Gateway: "10.254.52.1", PortStart: 62700, PortEnd: 62899,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Stop()
	etcd, err := etcdrunner.New(etcdrunner.Config{DataDir: filepath.Join(b.TempDir(), "etcd"), UnsafeNoFsync: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := etcd.Start(); err != nil {
		b.Fatal(err)
	}
	defer etcd.Stop()
	cli, err := etcd.Client()
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	store, err := bbs.New(bbs.Options{Client: cli, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	natsRunner, natsProcess, err := natsrunner.StartForTest(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { natsProcess.Signal(os.Interrupt); <-natsProcess.Wait() }()
	conn, err := nats.Connect(natsRunner.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	cfg := rep.DefaultConfig()
	cfg.CellID = "bench-cell"
	cfg.Executor.CellID = cfg.CellID
	cfg.Executor.Capacity = executor.Resources{MemoryMB: 100 * 64, DiskMB: 100 * 64, Containers: 250}
	cfg.Executor.ExternalIP = g.ExternalIP
	cfg.Executor.HealthStartupInterval = 200 * time.Millisecond
	exec := executor.New(logger, cfg.Executor, g.Client, &logstream.Emitter{Publisher: conn, Clock: clock.NewClock()}, conn, clock.NewClock())
	r := rep.New(logger, cfg, store, exec, clock.NewClock())
	processor := rep.Processor{Rep: r}
	stop := make(chan os.Signal, 1)
	go processor.Run(stop, make(chan struct{}))
	defer func() { stop <- os.Interrupt }()

	ctx := context.Background()
	lrp := &models.DesiredLRP{
		ProcessGuid: "bench-app", Domain: "bench", Instances: instances, RootFS: g.AppURI,
		Action:          &models.Action{Run: &models.RunAction{Path: "/app/httpapp"}},
		CheckDefinition: &models.CheckDefinition{Checks: []models.Check{{TCPCheck: &models.TCPCheck{Port: 8080}}}},
		Ports:           []uint32{8080}, MemoryMB: 64, DiskMB: 64, StartTimeout: 120,
	}
	if err := store.DesireLRP(ctx, logger, lrp); err != nil {
		b.Fatal(err)
	}
	// Warm the layer cache, as "one cached image" asks.
	if _, err := g.Client.Create(ctx, garden.ContainerSpec{Handle: "warm", Image: garden.ImageRef{URI: g.AppURI}}); err != nil {
		b.Fatal(err)
	}
	_ = g.Client.Destroy(ctx, "warm")

	work := repapi.Work{}
	for i := 0; i < instances; i++ {
		work.LRPs = append(work.LRPs, repapi.LRPWork{
			ActualLRPKey:        models.ActualLRPKey{ProcessGuid: "bench-app", Index: i, Domain: "bench"},
			Resource:            models.Resource{MemoryMB: 64, DiskMB: 64},
			PlacementConstraint: models.PlacementConstraint{RootFS: g.AppURI},
		})
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	b.ResetTimer()
	started := time.Now()
	if failed := r.Perform(logger, work); len(failed.LRPs) > 0 {
		b.Fatalf("the cell refused %d instances", len(failed.LRPs))
	}
	deadline := started.Add(3 * time.Minute)
	for {
		list, err := store.ActualLRPs(ctx, logger, models.ActualLRPFilter{ProcessGuid: "bench-app"})
		if err != nil {
			b.Fatal(err)
		}
		running := 0
		for _, a := range list {
			if a.State == models.ActualLRPStateRunning {
				running++
			}
		}
		if running == instances {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d running after 3 minutes", running, instances)
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(started)
	b.StopTimer()

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	benchreport.Below("cell", "100 instances in one POST /work: all RUNNING (TCP check)", elapsed.Seconds(), "s", 15)
	benchreport.Below("cell", "rep+executor+garden heap growth holding 100 instances (one process)",
		float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "MB", 100)

	for _, c := range exec.Containers() {
		_ = exec.Delete(ctx, c.Guid)
	}
}
