package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/models"
)

// Env is what every scenario needs from its caller.
type Env struct {
	BinDir     string    // built with world.Build
	PortOffset int       // the clusters' port offset (one cluster at a time)
	Output     io.Writer // gets the cluster's and the scenario's progress; nil: none
}

// Figured is a scenario's result: it says its figures for make bench.
type Figured interface {
	Figures() []benchreport.Figure
}

// J is a JSON object as the receptor takes it.
type J = map[string]any

const domain = "faults"

// cluster is a started world with the test app and busybox pushed and the
// scenarios' domain fresh.
type cluster struct {
	*world.World
	env              Env
	appRef, busybox  string
	started, stopped time.Time
}

// start starts a world with opts completed from env, pushes the images and
// makes the domain.
func start(env Env, opts world.Options) (*cluster, error) {
	opts.BinDir, opts.PortOffset = env.BinDir, env.PortOffset
	if opts.Output == nil {
		opts.Output = env.Output
	}
	w, err := world.Start(opts)
	if err != nil {
		return nil, err
	}
	c := &cluster{World: w, env: env}
	if c.appRef, err = w.PushTestApp(); err == nil {
		c.busybox, err = w.PushBusybox()
	}
	if err == nil {
		err = c.expect(http.MethodPut, "/v1/domains/"+domain, nil, http.StatusNoContent)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (and stopping: %v)", err, w.Stop())
	}
	return c, nil
}

// logf says what the scenario does, on env.Output.
func (c *cluster) logf(format string, args ...any) {
	if c.env.Output != nil {
		fmt.Fprintf(c.env.Output, time.Now().Format("15:04:05.000")+" scenario: "+format+"\n", args...)
	}
}

// expect sends a request to the receptor and wants status back.
func (c *cluster) expect(method, path string, body any, status int) error {
	resp, err := c.Request(method, path, body)
	if err != nil {
		return err
	}
	if resp.Status != status {
		return fmt.Errorf("%s %s: %d %s (want %d)", method, path, resp.Status, resp.Body, status)
	}
	return nil
}

// app is an LRP of the test app on port 8080 with a TCP check, routed at
// GUID.faults; extra fields override.
func (c *cluster) app(guid string, instances int, extra J) J {
	lrp := J{
		"process_guid": guid, "domain": domain, "instances": instances,
		"rootfs": world.RootFS(c.appRef), "action": run("/app/httpapp"),
		"ports": []int{8080}, "memory_mb": 64, "disk_mb": 128,
		"check_definition": J{"checks": []J{{"tcp_check": J{"port": 8080}}}},
		"routes":           routes(host(guid)),
		"log_guid":         guid,
	}
	for k, v := range extra {
		lrp[k] = v
	}
	return lrp
}

// task is a task on busybox running sh -c script, logged under its guid.
func (c *cluster) task(guid, script string, extra J) J {
	t := J{"task_guid": guid, "domain": domain, "rootfs": world.RootFS(c.busybox),
		"action": run("/bin/sh", "-c", script), "memory_mb": 64, "disk_mb": 64, "log_guid": guid}
	for k, v := range extra {
		t[k] = v
	}
	return t
}

func run(path string, args ...string) J { return J{"run": J{"path": path, "args": args}} }

func routes(hosts ...string) J {
	return J{models.CFRouterKey: []J{{"hostnames": hosts, "port": 8080}}}
}

// host is the route of an app.
func host(guid string) string { return guid + ".faults" }

// desire creates an LRP and waits until all its instances run and answer
// through the router.
func (c *cluster) desire(lrp J, within time.Duration) error {
	if err := c.expect(http.MethodPost, "/v1/desired_lrps", lrp, http.StatusCreated); err != nil {
		return err
	}
	guid, n := lrp["process_guid"].(string), lrp["instances"].(int)
	if err := c.waitRunning(guid, n, within); err != nil {
		return err
	}
	return c.waitRouted(guid, n, within)
}

// waitRunning waits until n indices of guid are RUNNING.
func (c *cluster) waitRunning(guid string, n int, within time.Duration) error {
	var last int
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		running, err := c.RunningIndices(guid)
		if err == nil && len(running) == n {
			return nil
		}
		last = len(running)
	}
	return fmt.Errorf("%s: %d of %d instances running after %s", guid, last, n, within)
}

// waitRouted waits until n different instances of guid answered through the router.
func (c *cluster) waitRouted(guid string, n int, within time.Duration) error {
	seen := map[string]bool{}
	for deadline := time.Now().Add(within); time.Now().Before(deadline) && len(seen) < n; {
		if in, err := c.GetInstance(host(guid)); err == nil {
			seen[in.Guid] = true
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(seen) < n {
		return fmt.Errorf("%s: %d of %d instances answered through the router within %s", guid, len(seen), n, within)
	}
	return nil
}

// Instance is one RUNNING instance as a scenario compares it before and after.
type Instance struct {
	Index        int
	InstanceGuid string
	CellID       string
	CrashCount   int
	// Started is when its process started, by its own uptime (asked at its
	// host port, not through the router).
	Started time.Time
}

// instances is every RUNNING ORDINARY instance of guid, by index, each
// asked directly how long its process has run.
func (c *cluster) instances(guid string) (map[int]Instance, error) {
	running, err := c.RunningIndices(guid)
	if err != nil {
		return nil, err
	}
	direct := &http.Client{Timeout: 5 * time.Second}
	out := map[int]Instance{}
	for i, a := range running {
		if len(a.Ports) == 0 {
			return nil, fmt.Errorf("%s index %d runs without ports", guid, i)
		}
		up, err := uptime(direct, fmt.Sprintf("http://%s:%d/", a.Address, a.Ports[0].HostPort))
		if err != nil {
			return nil, fmt.Errorf("%s index %d: %w", guid, i, err)
		}
		out[i] = Instance{Index: i, InstanceGuid: a.InstanceGuid, CellID: a.CellID, CrashCount: a.CrashCount, Started: time.Now().Add(-up)}
	}
	return out, nil
}

// uptime asks the test app at url how long its process has run.
func uptime(client *http.Client, url string) (time.Duration, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var in world.Instance
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
		return 0, fmt.Errorf("%s: %w", url, err)
	}
	return time.Duration(in.UptimeMs) * time.Millisecond, nil
}

// restarted lists the instances of before that are not running unchanged
// in after: another instance guid, a crash counted, a process started
// again (more than a second's difference, for the requests' latency), or
// gone.
func restarted(before, after map[int]Instance) []string {
	var out []string
	for i, b := range before {
		a, ok := after[i]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("index %d (%s on %s) no longer runs", i, b.InstanceGuid, b.CellID))
		case a.InstanceGuid != b.InstanceGuid:
			out = append(out, fmt.Sprintf("index %d: %s on %s replaced by %s on %s", i, b.InstanceGuid, b.CellID, a.InstanceGuid, a.CellID))
		case a.CrashCount != b.CrashCount || a.Started.Sub(b.Started) > time.Second:
			out = append(out, fmt.Sprintf("index %d (%s): process started %s, then %s; crashes %d -> %d", i, b.InstanceGuid,
				b.Started.Format("15:04:05.000"), a.Started.Format("15:04:05.000"), b.CrashCount, a.CrashCount))
		}
	}
	sort.Strings(out)
	return out
}

// cellOf is the 0-based index of a cell id ("cell-2" -> 1).
func cellOf(id string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(id, "cell-%d", &n); err != nil || n < 1 {
		return 0, fmt.Errorf("not a cell id of diego up: %q", id)
	}
	return n - 1, nil
}

// stop stops the world, keeping err when there is one.
func (c *cluster) stop(err *error) {
	if stopErr := c.Stop(); stopErr != nil && *err == nil {
		*err = fmt.Errorf("stopping the cluster: %w", stopErr)
	}
}

// zero is a figure whose target is exactly 0.
func zero(area, name string, value float64, unit string) benchreport.Figure {
	return benchreport.Figure{Area: area, Name: name, Value: value, Unit: unit, Target: "0 " + unit, Met: value == 0}
}

// below is a figure whose target is an upper bound.
func below(area, name string, value float64, unit string, limit float64) benchreport.Figure {
	return benchreport.Figure{Area: area, Name: name, Value: value, Unit: unit, Target: fmt.Sprintf("< %g %s", limit, unit), Met: value < limit}
}

func baseline(area, name string, value float64, unit string) benchreport.Figure {
	return benchreport.Figure{Area: area, Name: name, Value: value, Unit: unit, Baseline: true}
}
