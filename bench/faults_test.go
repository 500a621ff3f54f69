package bench

import (
	"testing"

	"github.com/diego-runtime/diego/e2e/faults/scenario"
	e2eworld "github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// faultsPortOffset keeps the fault scenarios' clusters off the other
// benchmarks' (30000) and the e2e suites'.
const faultsPortOffset = 11000

// BenchmarkFaults runs every fault-injection scenario of issue 19 (the
// specs of e2e/faults run the same ones) on a cluster of its own and
// records what users and instances saw: failed requests, restarted
// instances, tasks run twice, time to recover. About 12 minutes.
func BenchmarkFaults(b *testing.B) {
	binDir := b.TempDir()
	must(b, e2eworld.Build(binDir))
	env := scenario.Env{BinDir: binDir, PortOffset: faultsPortOffset}
	for _, s := range scenario.All {
		b.Run(s.Name, func(b *testing.B) {
			for range b.N {
				res, err := s.Run(env)
				if err != nil {
					b.Fatalf("%s could not be carried out: %v", s.Name, err)
				}
				b.Logf("%s: %+v", s.Name, res)
				for _, f := range res.Figures() {
					benchreport.Record(f)
				}
			}
		})
	}
}
