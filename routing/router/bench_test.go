package router_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/natsrunner"
	"github.com/diego-runtime/diego/routing/messages"
	"github.com/diego-runtime/diego/routing/router"
)

const (
	benchRate     = 2000 // requests per second, steady
	benchDuration = 5 * time.Second
	benchBackends = 10
)

// BenchmarkProxyLatency measures, at a steady 2,000 requests/s spread over
// 10 local backends, the p99 latency of hitting the backends directly (the
// baseline) and through the router, and the router's added p99; then the
// most requests per second the router serves with 32 concurrent clients.
func BenchmarkProxyLatency(b *testing.B) {
	natsURL, stopNATS := benchNATS(b)
	defer stopNATS()

	var backends []string
	for i := 0; i < benchBackends; i++ {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello from a backend\n")
		}))
		defer s.Close()
		backends = append(backends, strings.TrimPrefix(s.URL, "http://"))
	}

	config := router.DefaultConfig()
	config.ListenAddress = "127.0.0.1:0"
	config.NATSURLs = []string{natsURL}
	r, err := router.New(lager.NewLogger("bench"), config, router.Options{AccessLog: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	process := ifrit.Invoke(r)
	defer func() { process.Signal(os.Interrupt); <-process.Wait() }()

	nc, err := nats.Connect(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	host := "bench.example.com"
	for _, a := range backends {
		m := endpointMessage(a, host)
		data, _ := json.Marshal(m)
		if err := nc.Publish(messages.SubjectRegister, data); err != nil {
			b.Fatal(err)
		}
	}
	nc.Flush()
	deadline := time.Now().Add(5 * time.Second)
	for r.Table().Lookup(host).Len() < benchBackends {
		if time.Now().After(deadline) {
			b.Fatal("routes never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}

	gen := startLoadGenerator(b)
	defer gen.stop()
	direct := loadJob{Targets: backends, Rate: benchRate}
	proxied := loadJob{Targets: []string{r.Addr()}, Host: host, Rate: benchRate}
	slice := func(job loadJob, d time.Duration) loadResult {
		job.Duration = d
		return gen.run(b, job)
	}

	for i := 0; i < b.N; i++ {
		unpin := pinApart(b)
		slice(direct, 300*time.Millisecond) // warm both paths
		slice(proxied, 300*time.Millisecond)
		// Alternate short slices of each, so both see the same background
		// load on a shared machine. Each pair of slices gives an added p99
		// of its own; the figure is their median, so that a burst of other
		// work on the machine during one slice does not decide it. The p99s
		// of the whole run are reported beside it.
		var directLat, routerLat []time.Duration
		var directErrs, routerErrs int
		const slices = 10
		var directCPU, routerCPU time.Duration
		var added []time.Duration
		for s := 0; s < slices; s++ {
			cpu := processCPU()
			d := slice(direct, benchDuration/slices)
			directCPU += processCPU() - cpu
			directLat, directErrs = append(directLat, d.Latencies...), directErrs+d.Errors
			cpu = processCPU()
			r := slice(proxied, benchDuration/slices)
			routerCPU += processCPU() - cpu
			routerLat, routerErrs = append(routerLat, r.Latencies...), routerErrs+r.Errors
			added = append(added, percentile(r.Latencies, 0.99)-percentile(d.Latencies, 0.99))
		}
		unpin()
		// The generator runs apart, so this process's CPU is the backends'
		// (both ways) and the router's: its share is the difference.
		perRequest := float64(routerCPU-directCPU) / float64(len(routerLat)) / float64(time.Microsecond)
		benchreport.Baseline("router", "router CPU per request", perRequest, "µs")
		if directErrs+routerErrs > 0 {
			b.Errorf("errors: %d direct, %d through the router", directErrs, routerErrs)
		}
		directP99, routerP99 := percentile(directLat, 0.99), percentile(routerLat, 0.99)
		benchreport.Baseline("router", "direct to backend p99 @2000 rps", ms(directP99), "ms")
		benchreport.Baseline("router", "through router p99 @2000 rps", ms(routerP99), "ms")
		benchreport.Baseline("router", "added latency p99 @2000 rps, whole run", ms(routerP99-directP99), "ms")
		benchreport.Below("router", "added latency p99 @2000 rps (10 backends), median of 10 paired slices", ms(percentile(added, 0.5)), "ms", 1)
		benchreport.Baseline("router", "added latency p50 @2000 rps", ms(percentile(routerLat, 0.5)-percentile(directLat, 0.5)), "ms")

		job := proxied
		job.Max, job.Clients, job.Duration = true, 32, 2*time.Second
		res := gen.run(b, job)
		if res.Errors > 0 {
			b.Errorf("%d errors at max rate", res.Errors)
		}
		benchreport.Above("router", "max requests/s through router (32 clients)", float64(res.Done)/res.Seconds, "req/s", benchRate)
	}
}

// steady sends requests at a fixed rate (open loop) for d and returns each
// request's latency and the number of failures.
func steady(client *http.Client, newReq func() (*http.Request, error), rate int, d time.Duration) ([]time.Duration, int) {
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	work := make(chan struct{}, total)
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, total)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				lat, err := once(client, newReq)
				if err != nil {
					errs.Add(1)
					continue
				}
				mu.Lock()
				latencies = append(latencies, lat)
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := 0; i < total; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return latencies, int(errs.Load())
}

// maxRate runs closed-loop clients for d and returns the requests done and
// failed.
func maxRate(client *http.Client, newReq func() (*http.Request, error), clients int, d time.Duration) (int64, int) {
	var done, errs atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := once(client, newReq); err != nil {
					errs.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), int(errs.Load())
}

func once(client *http.Client, newReq func() (*http.Request, error)) (time.Duration, error) {
	req, err := newReq()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return time.Since(start), err
}

// BenchmarkRouteTable fills a route table with 100,000 endpoints (20,000
// hostnames with 5 instances each, as decoded from register messages) and
// reports the heap it holds and how long single updates take at that size.
func BenchmarkRouteTable(b *testing.B) {
	const hosts, perHost = 20000, 5
	for i := 0; i < b.N; i++ {
		payloads := make([][]byte, 0, hosts*perHost)
		for h := 0; h < hosts; h++ {
			for e := 0; e < perHost; e++ {
				m := messages.RegistryMessage{
					Host: fmt.Sprintf("10.%d.%d.%d", h/65536, (h/256)%256, h%256), Port: uint16(61000 + e),
					URIs:                 []string{fmt.Sprintf("app-%d.apps.example.com", h)},
					App:                  fmt.Sprintf("%08d-aaaa-bbbb-cccc-dddddddddddd", h),
					PrivateInstanceID:    fmt.Sprintf("%08d-eeee-ffff-0000-%012d", h, e),
					PrivateInstanceIndex: fmt.Sprint(e),
					Tags:                 map[string]string{"component": "route-emitter"},
				}
				data, _ := json.Marshal(m)
				payloads = append(payloads, data)
			}
		}
		apply := func(t *router.Table, data []byte, now time.Time) {
			var m messages.RegistryMessage
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
			host, _ := messages.NormalizeHost(m.URIs[0])
			t.Register(host, m, now)
		}

		before := heapInUse()
		table := router.NewTable(120 * time.Second)
		now := time.Now()
		for _, p := range payloads {
			apply(table, p, now)
		}
		after := heapInUse()
		if _, n := table.Size(); n != hosts*perHost {
			b.Fatalf("table holds %d endpoints", n)
		}
		benchreport.Below("router", "route table heap for 100,000 endpoints", float64(after-before)/(1<<20), "MB", 200)

		// Updates at that size: refreshes (the steady state), and
		// adds/removes of new endpoints, each timed on its own.
		var lat []time.Duration
		for j := 0; j < 20000; j++ {
			data := payloads[(j*7919)%len(payloads)]
			start := time.Now()
			apply(table, data, now.Add(time.Second))
			lat = append(lat, time.Since(start))
		}
		for j := 0; j < 5000; j++ {
			m := messages.RegistryMessage{Host: "192.168.0.1", Port: uint16(1000 + j), URIs: []string{fmt.Sprintf("app-%d.apps.example.com", j)}}
			start := time.Now()
			table.Register(fmt.Sprintf("app-%d.apps.example.com", j), m, now)
			table.Unregister(fmt.Sprintf("app-%d.apps.example.com", j), m)
			lat = append(lat, time.Since(start)/2)
		}
		benchreport.Below("router", "route update p99.9 (decode+apply, 100k endpoints)", float64(percentile(lat, 0.999))/1e3, "µs", 1000)
		// The maximum mostly measures how long the goroutine was descheduled
		// on a shared machine, so it is a figure to read, not the target.
		benchreport.Baseline("router", "route update max (100k endpoints)", float64(percentile(lat, 1))/1e3, "µs")

		start := time.Now()
		pruned := table.Prune(now.Add(10 * time.Minute))
		benchreport.Baseline("router", fmt.Sprintf("prune sweep of %dk endpoints", pruned/1000), ms(time.Since(start)), "ms")
		runtime.KeepAlive(table)
	}
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func endpointMessage(addr, host string) messages.RegistryMessage {
	i := strings.LastIndexByte(addr, ':')
	var port int
	fmt.Sscan(addr[i+1:], &port)
	return messages.RegistryMessage{Host: addr[:i], Port: uint16(port), URIs: []string{host}}
}

func benchNATS(b *testing.B) (string, func()) {
	runner, process, err := natsrunner.StartForTest(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return runner.ClientURL(), func() { process.Signal(os.Interrupt); <-process.Wait() }
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
