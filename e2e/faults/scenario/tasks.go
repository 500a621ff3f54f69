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

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// Timing of the late cell: the auctioneer gives a cell 1 s to answer
// (cell_state_timeout_ms), and the cell is held 2.5 s at a time, well
// inside its presence TTL, so it answers late but never leaves.
const (
	lateCellTimeout = time.Second
	lateHold        = 2500 * time.Millisecond
	lateTTL         = 20 * time.Second
	lateRounds      = 12
	latePerRound    = 3
)

// LateCellResult is how often tasks ran when one cell answered the
// auctioneer late.
type LateCellResult struct {
	Tasks int
	// LateAnswers counts the auctioneer's POST /work to the late cell that
	// timed out: the cell took that work after the auction gave up on it.
	LateAnswers int
	// RanTwice, CalledBackTwice and Failed list tasks by guid with what
	// was seen.
	RanTwice, CalledBackTwice, Failed []string
}

// LateCell submits rounds of tasks and, a little later each round, holds
// cell-1's rep (SIGSTOP) for longer than the auctioneer waits for it, so
// that some POST /work reaches it just before it stops and is answered
// after the auction timed out. Every task says when it starts (a log line)
// and calls back once done; each must run and call back exactly once.
func LateCell(env Env) (res LateCellResult, err error) {
	rounds, perRound := lateRounds, latePerRound
	var mu sync.Mutex
	callbacks := map[string]int{}
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var t struct {
			TaskGuid string `json:"task_guid"`
		}
		if err := json.NewDecoder(r.Body).Decode(&t); err == nil {
			mu.Lock()
			callbacks[t.TaskGuid]++
			mu.Unlock()
		}
		rw.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	c, err := start(env, world.Options{Cells: 2, PresenceTTL: lateTTL, AllowLoopbackCallbacks: true,
		Settings: []string{fmt.Sprintf("auctioneer.cell_state_timeout_ms=%d", lateCellTimeout.Milliseconds())}})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	var guids []string
	for r := 0; r < rounds; r++ {
		for k := 0; k < perRound; k++ {
			guid := fmt.Sprintf("late-%d-%d", r, k)
			guids = append(guids, guid)
			t := c.task(guid, "echo run-start; sleep 2; echo run-end", J{"completion_callback_url": receiver.URL + "/" + guid})
			if err := c.expect(http.MethodPost, "/v1/tasks", t, http.StatusCreated); err != nil {
				return res, err
			}
		}
		time.Sleep(time.Duration(r%8) * 10 * time.Millisecond)
		if err := c.Pause("cell-1-rep"); err != nil {
			return res, err
		}
		time.Sleep(lateHold)
		if err := c.Resume("cell-1-rep"); err != nil {
			return res, err
		}
		time.Sleep(300 * time.Millisecond)
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
		if strings.Contains(line, `"work-failed"`) && strings.Contains(line, `"cell-1"`) {
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
	}
}
