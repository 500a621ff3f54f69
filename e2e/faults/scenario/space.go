package scenario

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// The route-update loop: 600 updates each carrying 120 KiB of routes
// (72 MiB written), and what etcd's live data may hold afterwards.
const (
	loopUpdates    = 600
	loopRouteBytes = 120 << 10
	loopInUseLimit = 48 << 20
)

// RouteLoopResult is what a loop of large route updates did to etcd and to
// the BBS's writes.
type RouteLoopResult struct {
	Updates, BytesPerUpdate int
	// FailedUpdates lists updates the API refused.
	FailedUpdates []string
	// InUse is etcd's live data (DbSizeInUse) once history was compacted;
	// Alarms are the alarms etcd raised.
	InUse  int64
	Alarms []string
	// Wrote says that after the loop a new app was created and ran, and
	// every cell was still present (their heartbeats are writes too).
	Wrote bool
}

// RouteLoop updates one app's routes loopUpdates times, each time with
// loopRouteBytes under a router key the route emitter does not publish (so
// only the store feels it), then waits for etcd's live data to shrink and
// checks that writes still go through.
func RouteLoop(env Env) (res RouteLoopResult, err error) {
	res = RouteLoopResult{Updates: loopUpdates, BytesPerUpdate: loopRouteBytes}
	c, err := start(env, world.Options{Cells: 2})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid = "route-loop"
	if err := c.desire(c.app(guid, 1, nil), 2*time.Minute); err != nil {
		return res, err
	}
	filler := strings.Repeat("x", loopRouteBytes-200)
	c.logf("updating %s's routes %d times", guid, loopUpdates)
	for i := 0; i < loopUpdates; i++ {
		r := routes(host(guid))
		r["bulk-router"] = J{"update": i, "filler": filler}
		if err := c.expect(http.MethodPut, "/v1/desired_lrps/"+guid, J{"routes": r}, http.StatusNoContent); err != nil {
			res.FailedUpdates = append(res.FailedUpdates, fmt.Sprintf("update %d: %v", i, err))
			if len(res.FailedUpdates) >= 10 {
				break
			}
		}
	}
	etcd, err := c.Etcd()
	if err != nil {
		return res, err
	}
	defer etcd.Close()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		status, err := etcd.Status(ctx, etcd.Endpoints()[0])
		cancel()
		if err == nil {
			res.InUse = status.DbSizeInUse
		}
		if (err == nil && res.InUse < loopInUseLimit) || time.Now().After(deadline) {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	alarms, err := etcd.AlarmList(ctx)
	cancel()
	if err != nil {
		return res, err
	}
	for _, a := range alarms.Alarms {
		res.Alarms = append(res.Alarms, a.Alarm.String())
	}
	if err := c.desire(c.app(guid+"-after", 1, nil), time.Minute); err != nil {
		c.logf("no write after the loop: %v", err)
		return res, nil
	}
	cells, err := c.Cells()
	res.Wrote = err == nil && len(cells) == c.Config.Cells
	return res, nil
}

// Figures implements Figured.
func (r RouteLoopResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("%d route updates of %d KiB", r.Updates, r.BytesPerUpdate>>10)
	stopped := 1.0
	if r.Wrote {
		stopped = 0
	}
	return []benchreport.Figure{
		zero("faults", name+": updates refused", float64(len(r.FailedUpdates)), "updates"),
		zero("faults", name+": etcd alarms", float64(len(r.Alarms)), "alarms"),
		below("faults", name+": etcd live data afterwards", float64(r.InUse)/(1<<20), "MiB", loopInUseLimit>>20),
		zero("faults", name+": writes refused afterwards", stopped, "writes"),
	}
}
