package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	diegocluster "github.com/diego-runtime/diego/cluster"
	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// Timing of the late cell: the auctioneer gives a cell 1 s to answer
// (cell_state_timeout), and every POST /work reaches cell-1 1.5 s after
// it was sent (its GET /state at once), so it answers every one late: after
// the auctioneer gave the task back to the BBS, before it auctions it again
// (retry_delay, 1 s). The late cell then starts the task itself, and the
// next auction's cell must be refused.
const (
	lateCellTimeout = time.Second
	lateDelay       = 1500 * time.Millisecond
	// lateMinBytes tells a POST /work (headers and a JSON body) from a GET
	// /state (headers only) by its size on the wire.
	lateMinBytes = 300
	lateTasks    = 16
)

// LateCellResult is how often tasks ran when one cell answered the
// auctioneer late.
type LateCellResult struct {
	Tasks int
	// LateAnswers counts the auctioneer's POST /work to the late cell that
	// timed out: the cell took that work after the auction gave up on it.
	LateAnswers int
	// RanOnLateCell counts tasks whose one run was on the late cell (it
	// started them from work the auctioneer had given up on).
	RanOnLateCell int
	// RanTwice, CalledBackTwice and Failed list tasks by guid with what
	// was seen.
	RanTwice, CalledBackTwice, Failed []string
}

// LateCell puts cell-1 behind a relay that delivers every POST /work after
// the auctioneer stopped waiting for it (the rep still takes the work, and
// starts what it can), and submits tasks one by one. Every task says when
// it starts (a log line) and calls back once done; each must run and call
// back exactly once.
func LateCell(env Env) (res LateCellResult, err error) {
	var mu sync.Mutex
	callbacks, ranOn := map[string]int{}, map[string]string{}
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var t struct {
			TaskGuid string `json:"task_guid"`
			CellID   string `json:"cell_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&t); err == nil {
			mu.Lock()
			callbacks[t.TaskGuid]++
			ranOn[t.TaskGuid] = t.CellID
			mu.Unlock()
		}
		rw.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	planned := diegocluster.DefaultConfig()
	planned.ShiftPorts(env.PortOffset)
	relay, err := world.NewRelay(fmt.Sprintf("127.0.0.1:%d", planned.CellLayout(0).RepPort))
	if err != nil {
		return res, err
	}
	defer relay.Close()
	relay.Delay(lateMinBytes, lateDelay)
	c, err := start(env, world.Options{Cells: 2, AllowLoopbackCallbacks: true, Settings: []string{
		fmt.Sprintf("auctioneer.cell_state_timeout=%q", lateCellTimeout.String()),
		fmt.Sprintf(`cell-1-rep.advertise_url="https://127.0.0.1:%d"`, relay.Port()),
	}})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	var guids []string
	for i := 0; i < lateTasks; i++ {
		guid := fmt.Sprintf("late-%d", i)
		guids = append(guids, guid)
		t := c.task(guid, "echo run-start; sleep 2; echo run-end", J{"completion_callback_url": receiver.URL + "/" + guid})
		if err := c.expect(http.MethodPost, "/v1/tasks", t, http.StatusCreated); err != nil {
			return res, err
		}
		time.Sleep(700 * time.Millisecond)
	}
	res.Tasks = len(guids)
	called := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(callbacks)
	}
	for deadline := time.Now().Add(3 * time.Minute); called() < len(guids); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%d of %d tasks called back within 3 minutes", called(), len(guids))
		}
	}
	time.Sleep(5 * time.Second) // room for a second run or callback to show
	mu.Lock()
	for guid, n := range callbacks {
		if ranOn[guid] == "cell-1" {
			res.RanOnLateCell++
		}
		if n > 1 {
			res.CalledBackTwice = append(res.CalledBackTwice, fmt.Sprintf("%s: %d callbacks", guid, n))
		}
	}
	mu.Unlock()
	for _, guid := range guids {
		lines, err := c.Logs(guid, 100)
		if err != nil {
			return res, err
		}
		starts := 0
		for _, l := range lines {
			if strings.TrimSpace(l.Message) == "run-start" {
				starts++
			}
		}
		if starts > 1 {
			res.RanTwice = append(res.RanTwice, fmt.Sprintf("%s: started %d times", guid, starts))
		}
		if t, err := c.Task(guid); err == nil && t.Failed {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %s", guid, t.FailureReason))
		}
	}
	logged, err := os.ReadFile(c.LogPath("auctioneer"))
	if err != nil {
		return res, err
	}
	for _, line := range strings.Split(string(logged), "\n") {
		if strings.Contains(line, `work-failed"`) && strings.Contains(line, `"cell-1"`) {
			res.LateAnswers++
		}
	}
	return res, nil
}

// Figures implements Figured.
func (r LateCellResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("%d tasks, a cell answering /work late %d times", r.Tasks, r.LateAnswers)
	return []benchreport.Figure{
		zero("faults", name+": tasks run twice", float64(len(r.RanTwice)), "tasks"),
		zero("faults", name+": completion callbacks repeated", float64(len(r.CalledBackTwice)), "tasks"),
		zero("faults", name+": tasks failed", float64(len(r.Failed)), "tasks"),
		baseline("faults", name+": tasks the late cell ran", float64(r.RanOnLateCell), "tasks"),
	}
}
