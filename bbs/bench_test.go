package bbs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/encryption"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/models"
)

// Scale of the benchmark: what a large Diego deployment holds.
const (
	benchDesired     = 50000
	benchActual      = 60000
	benchReps        = 100
	benchPerRep      = 20 // indices each simulated rep claims and starts
	benchSeedBatch   = 500
	benchSeedWorkers = 8
)

// BenchmarkStore seeds an embedded etcd (fsync on, as in production) with
// 50,000 desired and 60,000 actual LRPs and measures the BBS's full fetches,
// the claim/start latency of 100 reps writing at once, and the memory held.
func BenchmarkStore(b *testing.B) {
	runner, err := etcdrunner.New(etcdrunner.Config{DataDir: b.TempDir(), LogLevel: "fatal"})
	if err != nil {
		b.Fatal(err)
	}
	if err := runner.Start(); err != nil {
		b.Fatal(err)
	}
	defer runner.Stop()
	etcdClient, err := runner.Client()
	if err != nil {
		b.Fatal(err)
	}
	defer etcdClient.Close()
	// Records are sealed at rest, as the bbs daemon always runs.
	keys, err := encryption.New(map[string]string{"bench": "bench passphrase, 16+ chars"}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	db, err := New(Options{Client: etcdClient, Logger: lager.NewLogger("bench"), RequestTimeout: time.Minute, Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	logger := lager.NewLogger("bench")

	start := time.Now()
	if err := seed(ctx, db, etcdClient); err != nil {
		b.Fatal(err)
	}
	benchreport.Baseline("bbs", fmt.Sprintf("seed %dk desired + %dk actual LRPs", benchDesired/1000, benchActual/1000), time.Since(start).Seconds(), "s")

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		t, cpu := time.Now(), cpuTime()
		actuals, err := db.ActualLRPs(ctx, logger, models.ActualLRPFilter{})
		if err != nil || len(actuals) != benchActual {
			b.Fatalf("fetching actual LRPs: %d, %v", len(actuals), err)
		}
		benchreport.Below("bbs", fmt.Sprintf("full fetch of %dk actual LRPs", benchActual/1000), ms(time.Since(t)), "ms", 1000)
		benchreport.Baseline("bbs", "CPU time of the actual LRP fetch (BBS + etcd, all cores)", ms(cpuTime()-cpu), "ms")

		t, cpu = time.Now(), cpuTime()
		infos, err := db.DesiredLRPSchedulingInfos(ctx, logger, models.DesiredLRPFilter{})
		if err != nil || len(infos) != benchDesired {
			b.Fatalf("fetching scheduling infos: %d, %v", len(infos), err)
		}
		benchreport.Below("bbs", fmt.Sprintf("full fetch of %dk desired scheduling infos", benchDesired/1000), ms(time.Since(t)), "ms", 1000)
		benchreport.Baseline("bbs", "CPU time of the scheduling-info fetch (BBS + etcd, all cores)", ms(cpuTime()-cpu), "ms")

		t = time.Now()
		desired, err := db.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{})
		if err != nil || len(desired) != benchDesired {
			b.Fatalf("fetching desired LRPs: %d, %v", len(desired), err)
		}
		benchreport.Baseline("bbs", fmt.Sprintf("full fetch of %dk whole desired LRPs", benchDesired/1000), ms(time.Since(t)), "ms")

		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		held := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		benchreport.Below("bbs", "Go heap held by the three fetch results", held, "MB", 500)
		benchreport.Baseline("bbs", "process Go heap in use after fetches (BBS + embedded etcd)", float64(after.HeapInuse)/(1<<20), "MB")
		if rss, ok := vmRSS(); ok {
			benchreport.Baseline("bbs", "process RSS after fetches (BBS + embedded etcd)", rss, "MB")
		}
		runtime.KeepAlive(actuals)
		runtime.KeepAlive(infos)
		runtime.KeepAlive(desired)
	}
	b.StopTimer()

	floor, err := rawWrites(ctx, etcdClient)
	if err != nil {
		b.Fatal(err)
	}
	benchreport.Baseline("bbs", fmt.Sprintf("bare etcd guarded put p50 (%d writers at once)", benchReps), ms(percentile(floor, 50)), "ms")
	benchreport.Baseline("bbs", fmt.Sprintf("bare etcd guarded put p99 (%d writers at once)", benchReps), ms(percentile(floor, 99)), "ms")

	claims, starts, err := claimAndStart(ctx, db, db, "burst", logger)
	if err != nil {
		b.Fatal(err)
	}
	all := append(append([]time.Duration{}, claims...), starts...)
	benchreport.Baseline("bbs", fmt.Sprintf("claim/start p50 (%d reps at once)", benchReps), ms(percentile(all, 50)), "ms")
	benchreport.Below("bbs", fmt.Sprintf("claim/start p99 (%d reps at once)", benchReps), ms(percentile(all, 99)), "ms", 50)
	benchreport.Baseline("bbs", "claim p99", ms(percentile(claims, 99)), "ms")
	benchreport.Baseline("bbs", "start p99", ms(percentile(starts, 99)), "ms")

	// The same burst through a second BBS process that has never read these
	// records: every first write must read first (two round trips).
	cold, err := New(Options{Client: etcdClient, Logger: logger, RequestTimeout: time.Minute, Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	claims, starts, err = claimAndStart(ctx, db, cold, "cold", logger)
	if err != nil {
		b.Fatal(err)
	}
	benchreport.Baseline("bbs", fmt.Sprintf("claim/start p99 via a BBS that never read the records (%d reps)", benchReps),
		ms(percentile(append(claims, starts...), 99)), "ms")
}

// seed writes the records straight into etcd, in large batches from several
// workers: 40,000 LRPs with one RUNNING instance and 10,000 with two.
func seed(ctx context.Context, db *DB, c *clientv3.Client) error {
	jobs := make(chan []clientv3.Op)
	errs := make(chan error, benchSeedWorkers)
	var wg sync.WaitGroup
	for w := 0; w < benchSeedWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ops := range jobs {
				if _, err := c.Txn(ctx).Then(ops...).Commit(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var batch []clientv3.Op
	flush := func() {
		if len(batch) > 0 {
			jobs <- batch
			batch = nil
		}
	}
	add := func(op clientv3.Op) {
		batch = append(batch, op)
		if len(batch) == benchSeedBatch {
			flush()
		}
	}
	now := time.Now().UnixNano()
	actuals := 0
	for i := 0; i < benchDesired; i++ {
		lrp := benchLRP(fmt.Sprintf("process-%06d", i), 1)
		if i < benchActual-benchDesired {
			lrp.Instances = 2
		}
		add(db.put(scheduleKey(lrp.ProcessGuid), lrp.SchedulingInfo()))
		add(db.put(runKey(lrp.ProcessGuid), lrp))
		for idx := 0; idx < lrp.Instances; idx++ {
			key := models.ActualLRPKey{ProcessGuid: lrp.ProcessGuid, Index: idx, Domain: lrp.Domain}
			add(db.put(actualKey(key, slotOrdinary), &models.ActualLRP{
				ActualLRPKey:         key,
				ActualLRPInstanceKey: models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("instance-%08d", actuals), CellID: fmt.Sprintf("cell-%03d", actuals%benchReps)},
				ActualLRPNetInfo: models.ActualLRPNetInfo{Address: "10.0.1." + strconv.Itoa(actuals%250), InstanceAddress: "10.255.0.2",
					Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: uint32(61000 + actuals%1000)}}},
				State: models.ActualLRPStateRunning, Since: now, Presence: models.PresenceOrdinary, Routable: true,
				ModificationTag: models.ModificationTag{Epoch: fmt.Sprintf("epoch-%08d", actuals), Index: 2},
			}))
			actuals++
		}
	}
	flush()
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("seeding: %w", err)
	default:
		return nil
	}
}

// benchLRP is a realistic desired LRP of about 1.5 KB.
func benchLRP(guid string, instances int) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: "cf-apps", Instances: instances, RootFS: "docker:///cloudfoundry/app#v1",
		Env:   []models.EnvVar{{Name: "PORT", Value: "8080"}, {Name: "APP_NAME", Value: guid}, {Name: "DATABASE_URL", Value: "postgres://db.internal:5432/" + guid}},
		Setup: &models.Action{Download: &models.DownloadAction{From: "http://blobstore/droplets/" + guid + ".tgz", To: "/app", CacheKey: "droplet-" + guid}},
		Action: &models.Action{Run: &models.RunAction{Path: "/app/bin/server", Args: []string{"--port", "8080", "--log-level", "info"},
			Env: []models.EnvVar{{Name: "GOMAXPROCS", Value: "2"}}, LogSource: "APP"}},
		CheckDefinition: &models.CheckDefinition{Checks: []models.Check{{HTTPCheck: &models.HTTPCheck{Port: 8080, Path: "/healthz"}}}},
		StartTimeout:    60, MemoryMB: 256, DiskMB: 1024, CPUWeight: 10, Ports: []uint32{8080},
		Routes:  models.Routes{models.CFRouterKey: json.RawMessage(`[{"hostnames":["` + guid + `.apps.example.com"],"port":8080}]`)},
		LogGuid: guid, LogSource: "APP", MetricsGuid: guid,
		Annotation:      strings.Repeat("a", 200),
		PlacementTags:   []string{"general"},
		ModificationTag: models.ModificationTag{Epoch: "epoch-" + guid},
	}
}

// claimAndStart desires (through desirer) one LRP per simulated rep, then has
// every rep claim and start its indices through db at the same moment, timing
// each call.
func claimAndStart(ctx context.Context, desirer, db *DB, prefix string, logger lager.Logger) (claims, starts []time.Duration, err error) {
	for r := 0; r < benchReps; r++ {
		if err := desirer.DesireLRP(ctx, logger, benchLRP(fmt.Sprintf("%s-%03d", prefix, r), benchPerRep)); err != nil {
			return nil, nil, err
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	gate := make(chan struct{})
	for r := 0; r < benchReps; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			<-gate
			cell := fmt.Sprintf("%s-cell-%03d", prefix, r)
			var cl, st []time.Duration
			for i := 0; i < benchPerRep; i++ {
				key := models.ActualLRPKey{ProcessGuid: fmt.Sprintf("%s-%03d", prefix, r), Index: i, Domain: "cf-apps"}
				instance := models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%03d-%02d", prefix, r, i), CellID: cell}
				t := time.Now()
				err := db.ClaimActualLRP(ctx, logger, key, instance)
				cl = append(cl, time.Since(t))
				if err == nil {
					t = time.Now()
					err = db.StartActualLRP(ctx, logger, key, instance, models.ActualLRPNetInfo{Address: "10.0.0.1"}, true)
					st = append(st, time.Since(t))
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			claims, starts = append(claims, cl...), append(starts, st...)
			mu.Unlock()
		}(r)
	}
	close(gate)
	wg.Wait()
	return claims, starts, firstErr
}

// cpuTime is the CPU time this process (BBS and embedded etcd) has used. On a
// shared machine it shows the work a fetch costs, apart from waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawWrites is the floor under claim/start: the same number of writers each
// making the same number of single-key guarded puts straight to etcd.
func rawWrites(ctx context.Context, c *clientv3.Client) ([]time.Duration, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var all []time.Duration
	var firstErr error
	gate := make(chan struct{})
	value := string(mustJSON(&models.ActualLRP{State: models.ActualLRPStateClaimed, Presence: models.PresenceOrdinary}))
	for r := 0; r < benchReps; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			<-gate
			var ds []time.Duration
			for i := 0; i < 2*benchPerRep; i++ {
				key := fmt.Sprintf("/bench/floor/%03d/%02d", r, i)
				t := time.Now()
				_, err := c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(clientv3.OpPut(key, value)).Commit()
				ds = append(ds, time.Since(t))
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			all = append(all, ds...)
			mu.Unlock()
		}(r)
	}
	close(gate)
	wg.Wait()
	return all, firstErr
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := append([]time.Duration{}, ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[(len(sorted)-1)*p/100]
}

// vmRSS reads the process's resident set size in MB.
func vmRSS() (float64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(fields[1], 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}
