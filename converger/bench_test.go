package converger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/models"
)

const (
	benchDesired   = 25_000
	benchInstances = 10
	benchCells     = 100
)

// BenchmarkConvergencePass times whole passes (snapshot through the real bbs.DB,
// Compute, apply) over 250,000 actual LRPs in embedded etcd, all RUNNING on
// present cells, so the pass reads everything and has nothing to do: the steady
// state an operator's alert watches (Diego's operators alert at 10 s).
func BenchmarkConvergencePass(b *testing.B) {
	runner, endpoint := etcdrunner.StartForTest(b.TempDir())
	defer runner.Stop()
	etcd, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
	if err != nil {
		b.Fatal(err)
	}
	defer etcd.Close()
	ctx := context.Background()
	logger := lager.NewLogger("bench")

	db, err := bbs.New(bbs.Options{Client: etcd, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	seedStart := time.Now()
	if err := seed(ctx, etcd, db, logger); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d actual LRPs in %s", benchDesired*benchInstances, time.Since(seedStart).Round(time.Millisecond))

	conv := converger.New(converger.Options{Logger: logger, Clock: clock.NewClock(), BBS: db})
	b.ResetTimer()
	const passes = 3
	var worst, total, fetch, compute, cpu time.Duration
	for range passes {
		cpuBefore := cpuTime()
		report, err := conv.Pass(ctx)
		cpu += cpuTime() - cpuBefore
		if err != nil {
			b.Fatal(err)
		}
		if !report.Result.Empty() {
			b.Fatalf("a steady state should need nothing, got %d missing, %d suspects", report.Result.MissingCount(), len(report.Result.SuspectsToMark))
		}
		worst = max(worst, report.Duration)
		total += report.Duration
		fetch += report.SnapshotDuration
		compute += report.ComputeDuration
	}
	b.StopTimer()

	// The machine is shared: a raw read of the same keys shows how loaded it was.
	rawStart := time.Now()
	for key := "/diego/v1/actual/"; ; {
		resp, err := etcd.Get(ctx, key, clientv3.WithRange(clientv3.GetPrefixRangeEnd("/diego/v1/actual/")), clientv3.WithLimit(10000))
		if err != nil {
			b.Fatal(err)
		}
		if !resp.More {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	raw := time.Since(rawStart)

	benchreport.Below("converger", "pass over 250,000 actual LRPs (mean of 3)", (total / passes).Seconds(), "s", 5)
	benchreport.Below("converger", "pass over 250,000 actual LRPs (worst of 3)", worst.Seconds(), "s", 10)
	benchreport.Baseline("converger", "pass: snapshot through bbs.DB (mean)", (fetch / passes).Seconds(), "s")
	benchreport.Baseline("converger", "pass: Compute (mean)", (compute / passes).Seconds(), "s")
	benchreport.Baseline("converger", "pass: CPU time, converger+BBS+etcd in one process (mean)", (cpu / passes).Seconds(), "s")
	benchreport.Baseline("converger", "raw etcd range read of the 250,000 records", raw.Seconds(), "s")
}

// seed writes the records straight into etcd in the BBS's layout (docs/bbs.md,
// bbs/keys.go), many per transaction: going through DesireLRP would take minutes.
// Cells and the domain go through the DB, since they are few.
func seed(ctx context.Context, etcd *clientv3.Client, db *bbs.DB, logger lager.Logger) error {
	if err := db.UpsertDomain(ctx, logger, "bench", 0); err != nil {
		return err
	}
	for c := range benchCells {
		_, err := db.RegisterCell(ctx, logger, models.CellPresence{CellID: fmt.Sprintf("cell-%d", c), RepAddress: "127.0.0.1:1",
			Zone: "z1", Capacity: models.CellCapacity{MemoryMB: 1 << 20, DiskMB: 1 << 20, Containers: 10_000}}, 600)
		if err != nil {
			return err
		}
	}
	now := time.Now().UnixNano()
	var g errgroup.Group
	g.SetLimit(8)
	const perTxn = 50 // desired LRPs per transaction: 2 + 10 writes each
	for first := 0; first < benchDesired; first += perTxn {
		g.Go(func() error {
			var ops []clientv3.Op
			for p := first; p < min(first+perTxn, benchDesired); p++ {
				guid := fmt.Sprintf("app-%05d", p)
				lrp := &models.DesiredLRP{ProcessGuid: guid, Domain: "bench", Instances: benchInstances,
					RootFS: "docker:///library/busybox", MemoryMB: 64, DiskMB: 64,
					Action:          &models.Action{Run: &models.RunAction{Path: "/bin/sleep", Args: []string{"1000"}}},
					Routes:          models.Routes{models.CFRouterKey: json.RawMessage(`[{"hostnames":["` + guid + `.example.com"],"port":8080}]`)},
					ModificationTag: models.ModificationTag{Epoch: guid, Index: 0}}
				run, _ := json.Marshal(lrp)
				sched, _ := json.Marshal(lrp.SchedulingInfo())
				ops = append(ops, clientv3.OpPut("/diego/v1/desired/run/"+guid, string(run)),
					clientv3.OpPut("/diego/v1/desired/schedule/"+guid, string(sched)))
				for i := range benchInstances {
					cell := fmt.Sprintf("cell-%d", (p*benchInstances+i)%benchCells)
					a := &models.ActualLRP{
						ActualLRPKey:         models.ActualLRPKey{ProcessGuid: guid, Index: i, Domain: "bench"},
						ActualLRPInstanceKey: models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d", guid, i), CellID: cell},
						ActualLRPNetInfo: models.ActualLRPNetInfo{Address: "10.0.0.1", InstanceAddress: "10.255.0.1",
							Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: uint32(60000 + i)}}},
						State: models.ActualLRPStateRunning, Since: now, Presence: models.PresenceOrdinary, Routable: true,
						ModificationTag: models.ModificationTag{Epoch: fmt.Sprintf("%s-%d", guid, i), Index: 2},
					}
					data, _ := json.Marshal(a)
					ops = append(ops, clientv3.OpPut(fmt.Sprintf("/diego/v1/actual/%s/%d/ordinary", guid, i), string(data)))
				}
			}
			_, err := etcd.Txn(ctx).Then(ops...).Commit()
			return err
		})
	}
	return g.Wait()
}

// cpuTime is the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
