package scenario

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/models"
)

// HeldHeartbeatsResult is what a cell whose heartbeats were held back did
// to its instances and its task.
type HeldHeartbeatsResult struct {
	Held, PresenceTTL time.Duration
	// Lapsed says the cell's presence was seen gone while it was held.
	Lapsed bool
	// Restarted lists the cell's instances that did not run on unchanged.
	Restarted []string
	// TaskState, TaskFailed and TaskFailureReason are how the task that
	// ran on the cell ended.
	TaskState         string
	TaskFailed        bool
	TaskFailureReason string
	// Recovered is how long after the release the cell was present again
	// and every instance RUNNING.
	Recovered time.Duration
}

// HeldHeartbeats runs 3 instances on 3 cells and a 25-second task, then
// stops the rep of the task's cell (SIGSTOP: no heartbeat, no answer, its
// containers run on) for 6 s, past its 3 s presence TTL (and within the
// converger's grace for its task, twice the TTL in diego up), and lets it
// go on.
// The app listens 15 s after it starts, as many real apps take a while:
// the cell is back before any replacement could run (a replacement that
// runs first wins, and the cell's copy then goes: docs/scheduling.md).
func HeldHeartbeats(env Env) (res HeldHeartbeatsResult, err error) {
	const ttl, held, startDelay = 3 * time.Second, 6 * time.Second, 15 * time.Second
	res = HeldHeartbeatsResult{Held: held, PresenceTTL: ttl}
	c, err := start(env, world.Options{Cells: 3, PresenceTTL: ttl})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid, taskGuid = "held", "held-task"
	lrp := c.app(guid, 3, J{"action": slowStart(startDelay), "start_timeout": 120})
	if err := c.desire(lrp, 2*time.Minute); err != nil {
		return res, err
	}
	if err := c.expect(http.MethodPost, "/v1/tasks", c.task(taskGuid, "echo task-started; sleep 25; echo task-done", nil), http.StatusCreated); err != nil {
		return res, err
	}
	task, err := c.waitTask(taskGuid, time.Minute, models.TaskStateRunning)
	if err != nil {
		return res, err
	}
	all, err := c.instances(guid)
	if err != nil {
		return res, err
	}
	before := map[int]Instance{}
	for i, in := range all {
		if in.CellID == task.CellID {
			before[i] = in
		}
	}
	if len(before) == 0 {
		return res, fmt.Errorf("no instance of %s on %s, the task's cell", guid, task.CellID)
	}
	rep := task.CellID + "-rep"
	c.logf("holding %s for %s", rep, held)
	if err := c.Pause(rep); err != nil {
		return res, err
	}
	for until := time.Now().Add(held); time.Now().Before(until); time.Sleep(100 * time.Millisecond) {
		if cells, err := c.Cells(); err == nil && !present(cells, task.CellID) {
			res.Lapsed = true
		}
	}
	if err := c.Resume(rep); err != nil {
		return res, err
	}
	back := time.Now()
	if err := c.waitWhole(guid, 3, time.Minute); err != nil {
		return res, err
	}
	res.Recovered = time.Since(back)
	task, err = c.waitTask(taskGuid, time.Minute, models.TaskStateCompleted, models.TaskStateResolving)
	if err != nil {
		return res, err
	}
	res.TaskState, res.TaskFailed, res.TaskFailureReason = task.State, task.Failed, task.FailureReason
	time.Sleep(10 * time.Second) // several convergence passes
	after, err := c.instances(guid)
	if err != nil {
		return res, err
	}
	res.Restarted = restarted(before, after)
	return res, nil
}

func present(cells []*models.CellPresence, id string) bool {
	for _, p := range cells {
		if p.CellID == id {
			return true
		}
	}
	return false
}

// waitTask waits until the task is in one of states.
func (c *cluster) waitTask(guid string, within time.Duration, states ...string) (*models.Task, error) {
	var last *models.Task
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		t, err := c.Task(guid)
		if err != nil {
			continue
		}
		last = t
		for _, s := range states {
			if t.State == s {
				return t, nil
			}
		}
	}
	return last, fmt.Errorf("task %s not %v within %s (last: %+v)", guid, states, within, last)
}

// Figures implements Figured.
func (r HeldHeartbeatsResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("a cell's heartbeats held %s (TTL %s)", r.Held, r.PresenceTTL)
	failed := 0.0
	if r.TaskFailed || r.TaskState == "" {
		failed = 1
	}
	return []benchreport.Figure{
		zero("faults", name+": its instances restarted", float64(len(r.Restarted)), "instances"),
		zero("faults", name+": its running task failed", failed, "tasks"),
		below("faults", name+": cell present and instances running again", r.Recovered.Seconds(), "s", 10),
	}
}

// SlowDrainResult is what draining a cell did to requests while the
// replacements took long to start.
type SlowDrainResult struct {
	StartDelay time.Duration
	Rate       int
	Load       world.LoadResult
	Drained    time.Duration // from the evacuate request until the cell held nothing
}

// SlowDrain runs 3 instances whose process listens only 8 s after it
// starts, on 3 cells, under 100 requests/s, and drains one cell. The
// router never retries (max_attempts 1), so a request sent to an instance
// that stopped before its route was withdrawn counts as failed instead of
// being hidden by a retry on another backend.
func SlowDrain(env Env) (res SlowDrainResult, err error) {
	const startDelay, rate = 8 * time.Second, 100
	res = SlowDrainResult{StartDelay: startDelay, Rate: rate}
	c, err := start(env, world.Options{Cells: 3, RouterMaxAttempts: 1})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid = "slow-drain"
	lrp := c.app(guid, 3, J{
		"action":        slowStart(startDelay),
		"start_timeout": 120,
	})
	if err := c.desire(lrp, 3*time.Minute); err != nil {
		return res, err
	}
	all, err := c.instances(guid)
	if err != nil {
		return res, err
	}
	cell, err := cellOf(all[0].CellID)
	if err != nil {
		return res, err
	}
	load := world.StartLoad(c.RouterURL, host(guid), rate)
	defer load.Stop()
	time.Sleep(3 * time.Second)
	began := time.Now()
	c.logf("draining %s", all[0].CellID)
	if resp, err := c.Evacuate(cell); err != nil || resp.Status >= 300 {
		return res, fmt.Errorf("evacuating %s: %v %d %s", all[0].CellID, err, resp.Status, resp.Body)
	}
	if err := c.waitCellEmpty(guid, all[0].CellID, 3, 3*time.Minute); err != nil {
		return res, err
	}
	res.Drained = time.Since(began)
	time.Sleep(3 * time.Second)
	res.Load = load.Stop()
	return res, nil
}

// waitCellEmpty waits until no record of guid names cellID and n run elsewhere.
func (c *cluster) waitCellEmpty(guid, cellID string, n int, within time.Duration) error {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		list, err := c.ActualLRPs(guid)
		if err != nil {
			continue
		}
		on := 0
		for _, a := range list {
			if a.CellID == cellID {
				on++
			}
		}
		if running, err := c.RunningIndices(guid); err == nil && on == 0 && len(running) == n {
			return nil
		}
	}
	return fmt.Errorf("%s still held instances of %s, or fewer than %d ran elsewhere, after %s", cellID, guid, n, within)
}

// Figures implements Figured.
func (r SlowDrainResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("a cell drained, replacements listening %s after start, %d req/s, router max_attempts 1", r.StartDelay, r.Rate)
	return []benchreport.Figure{
		zero("faults", name+": failed requests", float64(r.Load.Failed), "requests"),
		baseline("faults", name+": time to drain", r.Drained.Seconds(), "s"),
		baseline("faults", name+": requests sent", float64(r.Load.Sent), "requests"),
	}
}

// BlackHoleResult is where the instances of an app went when one cell's
// creates all fail.
type BlackHoleResult struct {
	Instances int
	// OnBrokenCell counts instances RUNNING on the broken cell at the end.
	OnBrokenCell int
	// Crashed lists every record seen CRASHED or with a crash counted.
	Crashed []string
	// AllRunning is how long until every instance ran.
	AllRunning time.Duration
}

// BlackHole gives cell-1's garden a runtime that fails every create and run
// (and passes everything else to runc: garden starts, lists and cleans up
// as usual), then runs 6 instances on the 3 cells.
func BlackHole(env Env) (res BlackHoleResult, err error) {
	const instances = 6
	res.Instances = instances
	runtime, err := brokenRuntime()
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(filepath.Dir(runtime))
	c, err := start(env, world.Options{Cells: 3, Settings: []string{fmt.Sprintf(`cell-1-garden.runtime_path=%q`, runtime)}})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid = "black-hole"
	began := time.Now()
	if err := c.expect(http.MethodPost, "/v1/desired_lrps", c.app(guid, instances, nil), http.StatusCreated); err != nil {
		return res, err
	}
	crashed := map[string]bool{}
	for deadline := began.Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%s: not every instance ran within 3 minutes", guid)
		}
		list, err := c.ActualLRPs(guid)
		if err != nil {
			continue
		}
		running := 0
		for _, a := range list {
			if a.State == models.ActualLRPStateCrashed || a.CrashCount > 0 {
				crashed[fmt.Sprintf("index %d on %s: %s, %d crashes (%s)", a.Index, a.CellID, a.State, a.CrashCount, a.CrashReason)] = true
			}
			if a.State == models.ActualLRPStateRunning {
				running++
			}
		}
		if running == instances && len(list) == instances {
			res.AllRunning = time.Since(began)
			for _, a := range list {
				if a.CellID == "cell-1" {
					res.OnBrokenCell++
				}
			}
			break
		}
	}
	for k := range crashed {
		res.Crashed = append(res.Crashed, k)
	}
	return res, nil
}

// brokenRuntime writes a runtime that fails `create` and `run` for the
// cell's own reason and passes every other command to the real runc.
func brokenRuntime() (string, error) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return "", fmt.Errorf("the broken runtime wraps runc: %w", err)
	}
	dir, err := os.MkdirTemp("", "diego-broken-runtime-")
	if err != nil {
		return "", err
	}
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do
	case "$a" in
	create|run) echo "broken runtime: no container can be made here" >&2; exit 1 ;;
	esac
done
exec %s "$@"
`, runc)
	path := filepath.Join(dir, "runc")
	return path, os.WriteFile(path, []byte(script), 0o755)
}

// Figures implements Figured.
func (r BlackHoleResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("%d instances, 1 of 3 cells failing every create", r.Instances)
	return []benchreport.Figure{
		zero("faults", name+": instances on the broken cell", float64(r.OnBrokenCell), "instances"),
		zero("faults", name+": crashed records", float64(len(r.Crashed)), "records"),
		below("faults", name+": time until every instance runs", r.AllRunning.Seconds(), "s", 60),
	}
}

// slowStart runs the test app after delay: it listens only then.
func slowStart(delay time.Duration) J {
	return run("/bin/sh", "-c", fmt.Sprintf("sleep %d; exec /app/httpapp", int(delay.Seconds())))
}
