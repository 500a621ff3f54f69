package scenario

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/diego-runtime/diego/bbs/maintain/spacecheck"
	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// The route-update loop: 800 updates of 120 KiB of routes (about 94 MiB
// written, more once encrypted) into an etcd whose quota is 64 MiB, which
// they would fill several times over if nothing compacted its history.
const (
	loopUpdates    = 800
	loopRouteBytes = 120 << 10
	loopQuota      = 64 << 20
	loopMaxStall   = 10 * time.Second
)

// RouteLoopResult is what a loop of large route updates did to etcd and to
// the BBS's writes.
type RouteLoopResult struct {
	QuotaBytes int64
	Loop       spacecheck.Result
	// LoopError is why the loop stopped early: an update that kept failing
	// past spacecheck's recovery time. Empty when every update was made.
	LoopError string
	// Wrote says that after the loop a new app was created and ran, and
	// every cell was still present (their heartbeats are writes too).
	Wrote bool
}

// RouteLoop updates the routes of an app of 0 instances (the routes are
// stored, and no router is bothered) loopUpdates times through the
// receptor, reading the store's health (GET /v1/health: etcd's size,
// quota and alarms) after each, then checks that writes still go through.
func RouteLoop(env Env) (res RouteLoopResult, err error) {
	res.QuotaBytes = loopQuota
	c, err := start(env, world.Options{Cells: 2, EtcdQuotaMB: loopQuota >> 20})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid = "route-loop"
	if err := c.expect(http.MethodPost, "/v1/desired_lrps", c.app(guid, 0, nil), http.StatusCreated); err != nil {
		return res, err
	}
	api := spacecheck.Receptor{URL: c.ReceptorURL}
	loop := spacecheck.Loop{Updates: loopUpdates, RouteBytes: loopRouteBytes, Update: api.Update(guid), Health: api.Health}
	c.logf("updating %s's routes %d times", guid, loopUpdates)
	res.Loop, err = loop.Run(context.Background())
	if err != nil {
		res.LoopError = err.Error()
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
	name := fmt.Sprintf("%d route updates of %d KiB, etcd quota %d MiB", loopUpdates, loopRouteBytes>>10, r.QuotaBytes>>20)
	refused := 0.0
	if !r.Wrote || r.LoopError != "" {
		refused = 1
	}
	return []benchreport.Figure{
		zero("faults", name+": updates or writes given up on", refused, "writes"),
		below("faults", name+": longest stall of one update", r.Loop.LongestStall.Seconds(), "s", loopMaxStall.Seconds()),
		below("faults", name+": largest etcd database", float64(r.Loop.MaxDBSizeBytes)/(1<<20), "MiB", float64(r.QuotaBytes>>20)),
		baseline("faults", name+": failed tries retried", float64(r.Loop.FailedTries), "tries"),
	}
}
