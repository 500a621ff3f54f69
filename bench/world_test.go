package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/cli"
	"github.com/diego-runtime/diego/cluster"
	"github.com/diego-runtime/diego/models"
)

// portOffset keeps the benchmark's cluster clear of a `diego up` on the
// default ports and of the e2e suites' clusters.
const portOffset = 30000

// buildOnce builds every binary once per `go test` process.
var buildOnce = sync.OnceValues(func() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "diego-bench-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"build", "-o", dir + "/", "./cmd/..."},
		{"build", "-o", filepath.Join(dir, "httpapp"), "./testapps/httpapp"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return dir, nil
})

// world is one whole cluster run in this process through package cluster,
// with every daemon a child process, so that killing one is a real failure.
type world struct {
	b       *testing.B
	cfg     cluster.Config
	cluster *cluster.Cluster
	process ifrit.Process
	client  *http.Client
	extra   map[string]*exec.Cmd // daemons the benchmark started itself
	onStop  []func()             // undoing what a benchmark did, before the cluster stops
}

// startWorld starts a cluster of cells after tune has adjusted the config.
// A cluster that fails to start (the machine is shared with other suites)
// gets one more try.
func startWorld(b *testing.B, cells int, tune func(*cluster.Config)) *world {
	b.Helper()
	w, err := tryWorld(b, cells, tune)
	if err != nil {
		// On stderr: a benchmark's own log is cut to a few lines.
		fmt.Fprintf(os.Stderr, "starting the cluster failed, trying once more: %v\n", err)
		w, err = tryWorld(b, cells, tune)
	}
	must(b, err)
	return w
}

func tryWorld(b *testing.B, cells int, tune func(*cluster.Config)) (*world, error) {
	b.Helper()
	bin, err := buildOnce()
	must(b, err)
	cfg := cluster.DefaultConfig()
	cfg.StateDir, err = os.MkdirTemp("/tmp", "diego-bench-")
	must(b, err)
	// Containers' roots are unprivileged host uids that must reach their rootfses.
	must(b, os.Chmod(cfg.StateDir, 0o755))
	cfg.BinDir = bin
	cfg.Cells, cfg.Zones = cells, min(3, cells)
	if tune != nil {
		tune(&cfg)
	}
	cfg.ShiftPorts(portOffset)
	// Below the ephemeral range and clear of other clusters' cell ports.
	cfg.CellPortBase, cfg.CellPortRange = 12000, 400

	logger := lager.NewLogger("bench")
	logFile, err := os.Create(filepath.Join(cfg.StateDir, "cluster.log"))
	must(b, err)
	logger.RegisterSink(lager.NewWriterSink(logFile, lager.INFO))

	c, runner, err := cluster.New(logger, cfg)
	if err != nil {
		os.RemoveAll(cfg.StateDir)
		return nil, err
	}
	w := &world{b: b, cfg: cfg, cluster: c, client: &http.Client{Timeout: 10 * time.Second}, extra: map[string]*exec.Cmd{}}
	started := time.Now()
	w.process = ifrit.Background(runner)
	select {
	case <-w.process.Ready():
	case err := <-w.process.Wait():
		w.logTails()
		w.stop()
		return nil, fmt.Errorf("starting the cluster: %w", err)
	case <-time.After(3 * time.Minute):
		w.logTails()
		w.stop()
		return nil, errors.New("the cluster did not start within 3 minutes")
	}
	b.Logf("cluster of %d cells up in %.1fs (state in %s)", cells, time.Since(started).Seconds(), cfg.StateDir)
	return w, nil
}

// logTails prints the last lines of every daemon's log to stderr, to say why
// a start failed.
func (w *world) logTails() {
	logs, _ := filepath.Glob(filepath.Join(w.cfg.StateDir, "logs", "*.log"))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(os.Stderr, "%s:\n%s\n", filepath.Base(path), strings.Join(lines[max(0, len(lines)-3):], "\n"))
	}
}

// stop stops the cluster and removes every trace, including the containers
// and networks of cells that were killed outright: for each, it starts the
// cell's garden again, which cleans up what its predecessor left, then stops
// it (its config destroys everything on exit).
func (w *world) stop() {
	for _, undo := range w.onStop {
		undo()
	}
	for name, cmd := range w.extra {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		delete(w.extra, name)
	}
	w.process.Signal(os.Interrupt)
	select {
	case <-w.process.Wait():
	case <-time.After(2 * time.Minute):
		w.b.Log("the cluster did not stop within 2 minutes")
	}
	// A cell killed outright, or a garden that could not finish destroying
	// its containers, leaves its bridge: clean those cells.
	for i := range w.cfg.Cells {
		if _, err := os.Stat("/sys/class/net/" + w.cfg.CellLayout(i).Bridge); err == nil {
			w.cleanCell(i)
		}
	}
	if os.Getenv("DIEGO_BENCH_KEEP") == "" {
		os.RemoveAll(w.cfg.StateDir)
	}
}

func (w *world) cleanCell(i int) {
	cell := w.cfg.CellLayout(i)
	cmd := exec.Command(filepath.Join(w.cfg.BinDir, "garden"), "-config", w.configPath(cell.ID+"-garden"))
	if err := cmd.Start(); err != nil {
		w.b.Logf("cleaning %s: %v", cell.ID, err)
		return
	}
	// Ready once it answers /ping, which is after its cleanup at start.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", cell.GardenSocket)
		},
	}}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := client.Get("http://garden/ping"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

func (w *world) configPath(name string) string {
	return filepath.Join(w.cfg.StateDir, "config", name+".json")
}

func (w *world) receptor(method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, w.cluster.Addresses.Receptor+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json") // the receptor takes nothing else
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// createApp pushes the test app (once per cluster) and desires it with
// instances, routed at name.localhost.
func (w *world) createApp(name string, instances int) {
	w.b.Helper()
	ref := w.cluster.Addresses.Registry + "/bench-app:latest"
	must(w.b, cli.PushTestApp(filepath.Join(w.cfg.BinDir, "httpapp"), ref))
	must(w.b, w.receptor(http.MethodPut, "/v1/domains/diego", nil, nil))
	routes, err := json.Marshal([]models.CFRoute{{Hostnames: []string{name + ".localhost"}, Port: 8080}})
	must(w.b, err)
	lrp := &models.DesiredLRP{
		ProcessGuid: name, Domain: "diego", Instances: instances,
		RootFS:   "docker://" + w.cluster.Addresses.Registry + "/bench-app#latest",
		MemoryMB: 32, DiskMB: 64, StartTimeout: 120, LogGuid: name, MetricsGuid: name,
		Ports:  []uint32{8080},
		Action: &models.Action{Run: &models.RunAction{Path: "/app/httpapp"}},
		CheckDefinition: &models.CheckDefinition{Checks: []models.Check{
			{HTTPCheck: &models.HTTPCheck{Port: 8080, Path: "/health"}}}},
		Routes: models.Routes{models.CFRouterKey: routes},
	}
	must(w.b, w.receptor(http.MethodPost, "/v1/desired_lrps", lrp, nil))
}

func (w *world) scale(name string, instances int) error {
	return w.receptor(http.MethodPut, "/v1/desired_lrps/"+url.PathEscape(name), models.DesiredLRPUpdate{Instances: &instances}, nil)
}

func (w *world) actualLRPs(name string) ([]*models.ActualLRP, error) {
	var lrps []*models.ActualLRP
	err := w.receptor(http.MethodGet, "/v1/actual_lrps/"+url.PathEscape(name), nil, &lrps)
	return lrps, err
}

// running counts the ordinary RUNNING instances by index and those on cells.
func running(lrps []*models.ActualLRP, instances int, skipCells map[string]bool) int {
	seen := map[int]bool{}
	for _, a := range lrps {
		if a.Presence != "" && a.Presence != models.PresenceOrdinary {
			continue
		}
		if a.State == models.ActualLRPStateRunning && a.Index < instances && !skipCells[a.CellID] {
			seen[a.Index] = true
		}
	}
	return len(seen)
}

// waitRunning polls until every index below instances is RUNNING on a cell
// not in skipCells and returns how long that took from since.
func (w *world) waitRunning(name string, instances int, skipCells map[string]bool, since time.Time, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	last := 0
	for time.Now().Before(deadline) {
		lrps, err := w.actualLRPs(name)
		if err == nil {
			last = running(lrps, instances, skipCells)
			if last == instances {
				return time.Since(since), nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(since), fmt.Errorf("%d of %d instances RUNNING after %s", last, instances, timeout)
}

// routerGet sends one request through the router for app name.
func routerGet(ctx context.Context, client *http.Client, router, name string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, router+"/", nil)
	if err != nil {
		return "", 0, err
	}
	req.Host = name + ".localhost"
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var body struct {
		InstanceGUID string `json:"instance_guid"`
	}
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &body)
	return body.InstanceGUID, resp.StatusCode, nil
}

// pids of the processes whose command line names config (a daemon of ours).
func pidsWithArg(arg string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(cmdline), "\x00") {
			if a == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killDaemon SIGKILLs a daemon of the cluster by its child name.
func (w *world) killDaemon(name string) {
	if cmd, ok := w.extra[name]; ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		delete(w.extra, name)
		return
	}
	for _, pid := range pidsWithArg(w.configPath(name)) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// startDaemon starts another copy of a daemon with the cluster's config.
func (w *world) startDaemon(name, binary string) {
	w.b.Helper()
	logFile, err := os.OpenFile(filepath.Join(w.cfg.StateDir, "logs", name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	must(w.b, err)
	cmd := exec.Command(filepath.Join(w.cfg.BinDir, binary), "-config", w.configPath(name))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(w.b, cmd.Start())
	logFile.Close()
	w.extra[name] = cmd
}

// killCell kills cell i outright, as if its machine vanished: its rep, its
// garden and every process in its containers, all SIGKILLed, so garden
// destroys nothing.
func (w *world) killCell(i int) {
	cell := w.cfg.CellLayout(i)
	for _, name := range []string{cell.ID + "-rep", cell.ID + "-garden"} {
		for _, pid := range pidsWithArg(w.configPath(name)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Twice: a process forked during the first sweep dies in the second.
	parent := filepath.Join("/sys/fs/cgroup/memory", "garden-"+cell.Bridge)
	for range 2 {
		for _, pid := range cgroupPids(parent) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// cgroupPids lists every process in a cgroup tree.
func cgroupPids(root string) []int {
	var pids []int
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
