package linux

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/garden/imagetest"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// Targets for garden's create path (see docs/garden.md).
const (
	benchContainers  = 100
	benchParallelism = 8
	idleContainers   = 300
	createP50Target  = 150.0 // ms
	createP99Target  = 300.0 // ms
	floorRatioTarget = 1.2   // garden create p50 / raw runc run -d p50, at most (issues 14 and 17)
	idleRSSTarget    = 200.0 // MB

	quietCores = 0.15 // the rest of the machine's CPU that counts as quiet
	quietLimit = 60 * time.Second
)

// BenchmarkCreate measures create (rootfs from a cached image, network, rules,
// runc run -d) and destroy of 100 containers, sequentially and 8 at a time,
// against the floor: runc run -d of the same bundles prepared beforehand, in
// the same run. Then it holds 300 idle containers and measures garden's RSS.
func BenchmarkCreate(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchCreate(b)
	}
}

func benchCreate(b *testing.B) {
	ctx := context.Background()
	logger := lager.NewLogger("bench")
	if path := os.Getenv("DIEGO_BENCH_GARDEN_LOG"); path != "" {
		// garden's log, for the phases of each create ("created" lines).
		f, err := os.Create(path)
		must(b, err)
		defer f.Close()
		logger.RegisterSink(lager.NewWriterSink(f, lager.INFO))
	}
	dir := "/tmp/dg-bench" // fixed: a killed run's leftovers are cleaned by the next Start
	must(b, os.MkdirAll(dir, 0o755))
	defer os.RemoveAll(dir)
	must(b, os.Chmod(dir, 0o755))

	reg := imagetest.NewRegistry()
	defer reg.Close()
	img, err := imagetest.BusyboxImage()
	must(b, err)
	must(b, imagetest.Push(reg.Host, "busybox", "latest", img))
	uri := fmt.Sprintf("docker://%s/busybox#latest", reg.Host)

	store, err := image.NewStore(logger, image.StoreConfig{Dir: filepath.Join(dir, "img"), InsecureRegistries: []string{reg.Host}})
	must(b, err)
	cfg := DefaultConfig()
	cfg.InitPath, err = imagetest.BuildInit(dir)
	must(b, err)
	cfg.StateDir = filepath.Join(dir, "g")
	cfg.BridgeName = "dgb"
	cfg.Subnet = "10.254.56.0/22"
	cfg.PortRangeStart, cfg.PortRangeEnd = 63000, 63199
	cfg.MaxContainers = idleContainers + 10
	be, err := New(logger, clock.NewClock(), cfg, store)
	must(b, err)
	must(b, be.Start(ctx))
	defer func() { must(b, be.Shutdown(ctx)); store.Close() }()

	spec := func(h string) garden.ContainerSpec {
		return garden.ContainerSpec{Handle: h, Image: garden.ImageRef{URI: uri}, Limits: garden.Limits{MemoryBytes: 64 << 20, Pids: 100}}
	}
	// Warm the layer cache: the figures are for a cached image.
	_, err = be.Create(ctx, spec("warm"))
	must(b, err)
	must(b, be.Destroy(ctx, "warm"))

	for _, par := range []int{1, benchParallelism} {
		label := "sequential"
		if par > 1 {
			label = fmt.Sprintf("%d at a time", par)
		}
		// Each worker alternates the floor and garden, so both see the same
		// load from the rest of the machine; but garden's pool refills at the
		// lowest priority, so leftover load (a cluster benchmark before this
		// one tearing down its containers) falls on garden's side: start on
		// a quiet machine, and say how long that took.
		store.WaitIdle()
		be.netPool.wait()
		waited, others := benchreport.WaitQuiet(quietCores, quietLimit)
		benchreport.Baseline("garden", "waited for a quiet machine ("+label+")", waited.Seconds(), "s")
		benchreport.Baseline("garden", "other processes' CPU before ("+label+")", others, "cores")
		be.netPool.misses.Store(0)
		floor := make([]time.Duration, benchContainers)
		destroys := make([]time.Duration, benchContainers)
		creates := forEach(b, benchContainers, par, func(i int) time.Duration {
			if par == 1 {
				// Nothing of garden's background work (the disk pool
				// refilling, a destroyed container's file systems going)
				// may run into the floor's time.
				store.WaitIdle()
				be.netPool.wait()
			}
			floor[i] = rawRunc(b, be, store, logger, fmt.Sprintf("raw-%d-%d", par, i), spec(""))
			h := fmt.Sprintf("c-%d-%d", par, i)
			start := time.Now()
			_, err := be.Create(ctx, spec(h))
			took := time.Since(start)
			must(b, err)
			start = time.Now()
			must(b, be.Destroy(ctx, h))
			destroys[i] = time.Since(start)
			return took
		})
		benchreport.Baseline("garden", "raw runc run -d p50 ("+label+")", ms(pct(floor, 50)), "ms")
		benchreport.Baseline("garden", "raw runc run -d p99 ("+label+")", ms(pct(floor, 99)), "ms")
		benchreport.Below("garden", "create+run p50 ("+label+")", ms(pct(creates, 50)), "ms", createP50Target)
		benchreport.Below("garden", "create+run p99 ("+label+")", ms(pct(creates, 99)), "ms", createP99Target)
		benchreport.AtMost("garden", "create+run p50 / raw runc p50 ("+label+")", ms(pct(creates, 50))/ms(pct(floor, 50)), "x", floorRatioTarget)
		benchreport.Baseline("garden", "destroy p50 ("+label+")", ms(pct(destroys, 50)), "ms")
		benchreport.Baseline("garden", "creates that found no pooled network ("+label+")", float64(be.netPool.misses.Load()), "creates")
	}

	// Hold idle containers and measure garden's own memory.
	start := time.Now()
	forEach(b, idleContainers, benchParallelism, func(i int) time.Duration {
		h := "idle-" + strconv.Itoa(i)
		_, err := be.Create(ctx, spec(h))
		must(b, err)
		// Like an app: one long-running process per container.
		_, err = be.Run(ctx, h, garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"100000"}}, garden.ProcessIO{Stdout: io.Discard, Stderr: io.Discard})
		must(b, err)
		return 0
	})
	benchreport.Baseline("garden", fmt.Sprintf("create %d idle containers, %d at a time", idleContainers, benchParallelism), time.Since(start).Seconds(), "s")
	runtime.GC()
	// garden's own memory plus anything it keeps per process (runc exec is
	// detached, so there should be nothing besides garden itself).
	benchreport.Below("garden", fmt.Sprintf("garden RSS holding %d idle containers, each running a process", idleContainers), rssMB()+runcChildrenMB(), "MB", idleRSSTarget)
	start = time.Now()
	forEach(b, idleContainers, benchParallelism, func(i int) time.Duration {
		must(b, be.Destroy(ctx, "idle-"+strconv.Itoa(i)))
		return 0
	})
	benchreport.Baseline("garden", fmt.Sprintf("destroy %d idle containers, %d at a time", idleContainers, benchParallelism), time.Since(start).Seconds(), "s")
}

// rawRunc times only `runc run -d` of a bundle garden would write (same
// rootfs kind, user namespace, cgroup limits, seccomp, init), prepared
// beforehand, with a fresh network namespace and no veth.
func rawRunc(b *testing.B, be *Backend, store *image.Store, logger lager.Logger, handle string, spec garden.ContainerSpec) time.Duration {
	ctx := context.Background()
	spec.Handle = handle
	m := []image.IDMapping{{ContainerID: 0, HostID: be.cfg.UIDMapStart, Size: mappedUsersSize}}
	img, err := store.Create(ctx, logger, handle, image.Spec{URI: spec.Image.URI, UIDMappings: m, GIDMappings: m})
	must(b, err)
	c := &container{handle: handle, spec: spec, dir: filepath.Join(be.containersDir(), handle), rootfs: img.RootFSPath, ip: ipAt(be.net.subnet, 2), hostRoot: be.cfg.UIDMapStart}
	must(b, os.Mkdir(c.dir, 0o711))
	must(b, be.makeWorkCgroup(c))
	must(b, be.writeBundle(c))
	sp, initEnd, err := newSocketPair()
	must(b, err)
	defer sp.close()
	start := time.Now()
	pid, err := be.runc.runDetached(ctx, handle, c.dir, initEnd)
	took := time.Since(start)
	initEnd.Close()
	must(b, err)
	_, exited := reap(pid)
	must(b, be.runc.delete(ctx, handle))
	must(b, be.removePidsCgroup(handle))
	<-exited
	must(b, store.Destroy(logger, handle))
	must(b, os.RemoveAll(c.dir))
	return took
}

// forEach runs f for 0..n-1 with par workers and returns the durations. A
// worker that fails the benchmark (b.Fatal ends its goroutine) stops the rest.
func forEach(b *testing.B, n, par int, f func(i int) time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	next := make(chan int)
	quit := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer once.Do(func() { close(quit) })
			for i := range next {
				out[i] = f(i)
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-quit:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return out
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

// runcChildrenMB sums the RSS of runc processes whose parent is this process.
func runcChildrenMB() float64 {
	entries, _ := os.ReadDir("/proc")
	total := 0.0
	for _, e := range entries {
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil || !strings.Contains(string(status), "\nPPid:\t"+strconv.Itoa(os.Getpid())+"\n") || !strings.HasPrefix(string(status), "Name:\trunc") {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				total += kb / 1024
			}
		}
	}
	return total
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
