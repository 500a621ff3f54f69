package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diego-runtime/diego/internal/benchreport"
)

// Targets from issue 16: the seed's headline demo on a default cluster.
const (
	demoInstances      = 300
	demoUnplaceable    = 2000 // more than three default cells hold (400 containers each)
	demoRefusalTarget  = 5.0  // s until `diego scale` gives up on what cannot fit
	demoRoutableTarget = 30.0 // s from `diego scale demo 300` to all 300 served
)

// BenchmarkDemoScale is the first run a new user makes: on a cluster with
// diego up's defaults (3 cells, capacity derived from the machine), `diego
// demo`, then `diego scale demo 300` through the CLI, timed until the router
// has served all 300 instances; then a scale the cluster cannot fit, timed
// until the CLI gives up naming the reason; then, in the same run, the raw
// runc floor of 300 containers.
func BenchmarkDemoScale(b *testing.B) {
	for range b.N {
		benchDemoScale(b)
	}
}

func benchDemoScale(b *testing.B) {
	w := startWorld(b, 3, nil)
	stopped := false
	defer func() {
		if !stopped {
			w.stop()
		}
	}()
	diego := func(timeout time.Duration, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(w.cfg.BinDir, "diego"), append([]string{"--target", w.cluster.Addresses.Receptor}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := diego(3*time.Minute, "demo", "--registry", w.cluster.Addresses.Registry, "--instances", "1")
	if err != nil {
		lrps, _ := w.actualLRPs("demo")
		for _, a := range lrps {
			fmt.Printf("demo/%d: %s on %q: %s %s\n", a.Index, a.State, a.CellID, a.PlacementError, a.CrashReason)
		}
		w.logTails()
		b.Fatalf("diego demo: %v\n%s", err, lastLines(out, 5))
	}

	start := time.Now()
	probe := probeRoutable(w, "demo", demoInstances, start, scaleTimeout)
	out, err = diego(scaleTimeout, "scale", "demo", fmt.Sprint(demoInstances))
	cliDone := time.Since(start)
	if err != nil {
		b.Errorf("diego scale demo %d: %v\n%s", demoInstances, err, lastLines(out, 5))
		cliDone = scaleTimeout
	}
	routable, distinct := probe.wait()
	if distinct < demoInstances {
		b.Errorf("the router served %d distinct demo instances of %d within %s", distinct, demoInstances, scaleTimeout)
	}
	name := fmt.Sprintf("defaults: diego demo, then diego scale demo %d", demoInstances)
	benchreport.Baseline("demo", name+": the CLI returns", cliDone.Seconds(), "s")
	benchreport.Below("demo", name+": all routable", routable.Seconds(), "s", demoRoutableTarget)

	start = time.Now()
	out, err = diego(time.Minute, "scale", "demo", fmt.Sprint(demoUnplaceable))
	refused := time.Since(start)
	if err == nil || !strings.Contains(out, "insufficient resources") {
		b.Errorf("diego scale demo %d should fail naming insufficient resources; err %v:\n%s", demoUnplaceable, err, lastLines(out, 5))
		refused = time.Minute
	}
	benchreport.Below("demo", fmt.Sprintf("defaults: diego scale demo %d (cannot fit) exits non-zero", demoUnplaceable), refused.Seconds(), "s", demoRefusalTarget)

	w.stop()
	stopped = true
	floor := rawRuncFloor(b, filepath.Join(w.cfg.BinDir, "httpapp"), demoInstances, floorParallelism)
	benchreport.Baseline("demo", fmt.Sprintf("raw runc run -d of %d bundles, %d at a time", demoInstances, floorParallelism), floor.Seconds(), "s")
	benchreport.Baseline("demo", "defaults: all routable / raw runc floor", routable.Seconds()/floor.Seconds(), "x")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
