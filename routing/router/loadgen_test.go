package router_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The router benchmark's load comes from a process of its own (this test
// binary again, with loadGenEnv set), pinned to a CPU apart from the router's
// when the machine has two or more: in one process the generator's
// allocations, garbage collection and 64 goroutines were part of every
// latency the router was charged with.

const loadGenEnv = "DIEGO_ROUTER_LOADGEN"

func TestMain(m *testing.M) {
	if os.Getenv(loadGenEnv) != "" {
		if err := serveLoad(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "load generator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// loadJob is one run of the generator: steady (open loop at rate for
// duration) or max (clients closed-loop clients for duration). Requests go
// to targets in turn, with Host set when host is not empty.
type loadJob struct {
	Max      bool          `json:"max"`
	Targets  []string      `json:"targets"`
	Host     string        `json:"host"`
	Rate     int           `json:"rate"`
	Clients  int           `json:"clients"`
	Duration time.Duration `json:"duration"`
}

type loadResult struct {
	Latencies []time.Duration `json:"latencies"`
	Errors    int             `json:"errors"`
	Done      int64           `json:"done"`
	Seconds   float64         `json:"seconds"`
	Err       string          `json:"err,omitempty"`
}

// serveLoad runs the jobs read from in, one JSON line each, and writes each
// result as a JSON line to out, until in ends.
func serveLoad(in io.Reader, out io.Writer) error {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: 1000, MaxIdleConnsPerHost: 256}}
	dec, enc := json.NewDecoder(in), json.NewEncoder(out)
	for {
		var job loadJob
		if err := dec.Decode(&job); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		var next atomic.Uint64
		newReq := func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, "http://"+job.Targets[next.Add(1)%uint64(len(job.Targets))]+"/", nil)
			if req != nil && job.Host != "" {
				req.Host = job.Host
			}
			return req, err
		}
		var res loadResult
		if job.Max {
			start := time.Now()
			done, errs := maxRate(client, newReq, job.Clients, job.Duration)
			res.Done, res.Errors, res.Seconds = done, errs, time.Since(start).Seconds()
		} else {
			res.Latencies, res.Errors = steady(client, newReq, job.Rate, job.Duration)
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
}

// loadGenerator is the parent's handle on the generator process.
type loadGenerator struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
	mu  sync.Mutex
}

// startLoadGenerator starts the generator, on the last CPU when there are
// two or more (the router's process keeps the others: see pinApart).
func startLoadGenerator(b *testing.B) *loadGenerator {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	args := []string{self, "-test.run=^$"}
	if n := runtime.NumCPU(); n >= 2 {
		args = append([]string{"taskset", "-c", strconv.Itoa(n - 1)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), loadGenEnv+"=1", "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the load generator: %v", err)
	}
	return &loadGenerator{cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReader(out))}
}

func (g *loadGenerator) run(b *testing.B, job loadJob) loadResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := json.NewEncoder(g.in).Encode(job); err != nil {
		b.Fatalf("sending a job to the load generator: %v", err)
	}
	var res loadResult
	if err := g.out.Decode(&res); err != nil {
		b.Fatalf("reading the load generator's result: %v", err)
	}
	return res
}

func (g *loadGenerator) stop() {
	g.in.Close()
	_ = g.cmd.Wait()
}

// pinApart keeps this process off the generator's CPU while the router is
// measured, and runs it with as many Ps as the CPUs it keeps, as Go would
// choose for a process started with that affinity: with more Ps than CPUs,
// a thread holding a P (and the goroutines queued on it) waits out the
// kernel's time slice behind another, and that wait lands in the tail. The
// returned func lets it use every CPU again.
func pinApart(b *testing.B) func() {
	n := runtime.NumCPU()
	if n < 2 {
		return func() {}
	}
	pid := strconv.Itoa(os.Getpid())
	if out, err := exec.Command("taskset", "-a", "-p", "-c", "0-"+strconv.Itoa(n-2), pid).CombinedOutput(); err != nil {
		b.Fatalf("pinning the router's process: %v: %s", err, out)
	}
	procs := runtime.GOMAXPROCS(n - 1)
	return func() {
		runtime.GOMAXPROCS(procs)
		if out, err := exec.Command("taskset", "-a", "-p", "-c", "0-"+strconv.Itoa(n-1), pid).CombinedOutput(); err != nil {
			b.Errorf("unpinning the router's process: %v: %s", err, out)
		}
	}
}
