package scenario

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
)

// Router tuning of the NATS outage: an endpoint not refreshed for 30 s is
// pruned (sweeps every 5 s), so a 3-minute outage is six prune thresholds
// long; the publisher-silence rule (15 s) and the NATS-down rule are what
// keep the routes.
const (
	outagePruneThreshold = 30 * time.Second
	outagePruneInterval  = 5 * time.Second
	outageSilence        = 15 * time.Second
	natsOutage           = 3 * time.Minute
	natsOutageRate       = 200
	etcdOutage           = 30 * time.Second
	etcdOutageRate       = 100
)

// NATSOutageResult is what a NATS outage under load did.
type NATSOutageResult struct {
	Outage, PruneThreshold time.Duration
	Rate                   int
	Load                   world.LoadResult
	// PruningSuspended says the router logged that it skipped a sweep:
	// without that, the threshold would have emptied its table.
	PruningSuspended bool
	// RouteChange is how long after NATS came back a new hostname of the
	// app answered through the router.
	RouteChange time.Duration
}

// NATSOutage runs 2 instances of the test app under 200 requests/s through
// the router, cuts NATS for 3 minutes (every client's connection reset, new
// ones refused), restores it, then adds a hostname to the app's routes and
// waits for it to answer.
func NATSOutage(env Env) (res NATSOutageResult, err error) {
	outage, rate := natsOutage, natsOutageRate
	res = NATSOutageResult{Outage: outage, PruneThreshold: outagePruneThreshold, Rate: rate}
	c, err := start(env, world.Options{Cells: 2, Settings: []string{
		fmt.Sprintf(`router.prune_threshold=%q`, outagePruneThreshold),
		fmt.Sprintf(`router.prune_interval=%q`, outagePruneInterval),
		fmt.Sprintf(`router.publisher_silence=%q`, outageSilence),
	}})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid = "nats-outage"
	if err := c.desire(c.app(guid, 2, nil), 2*time.Minute); err != nil {
		return res, err
	}
	load := world.StartLoad(c.RouterURL, host(guid), rate)
	defer load.Stop()
	time.Sleep(3 * time.Second)
	back, err := c.cutFor("NATS", c.Config.NATSPort, outage)
	if err != nil {
		return res, err
	}
	update := J{"routes": routes(host(guid), host(guid+"-again"))}
	if err := c.expect(http.MethodPut, "/v1/desired_lrps/"+guid, update, http.StatusNoContent); err != nil {
		return res, err
	}
	if err := c.waitRouted(guid+"-again", 1, time.Minute); err != nil {
		return res, err
	}
	res.RouteChange = time.Since(back)
	time.Sleep(3 * time.Second)
	res.Load = load.Stop()
	logged, err := os.ReadFile(c.LogPath("router"))
	if err != nil {
		return res, err
	}
	res.PruningSuspended = strings.Contains(string(logged), `pruning-suspended"`)
	return res, nil
}

// Figures implements Figured.
func (r NATSOutageResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("NATS cut %s under %d req/s (prune threshold %s)", r.Outage, r.Rate, r.PruneThreshold)
	return []benchreport.Figure{
		zero("faults", name+": failed requests", float64(r.Load.Failed), "requests"),
		baseline("faults", name+": requests sent", float64(r.Load.Sent), "requests"),
		below("faults", name+": a route change served after NATS returns", r.RouteChange.Seconds(), "s", 30),
	}
}

// EtcdOutageResult is what an etcd outage under load did.
type EtcdOutageResult struct {
	Outage time.Duration
	Rate   int
	Load   world.LoadResult
	// Unreachable says a read through the API failed during the cut: the
	// BBS could not reach etcd.
	Unreachable bool
	// Restarted lists the instances that did not run on unchanged.
	Restarted []string
	// Recovered is how long after etcd came back every cell was present
	// again and every instance RUNNING.
	Recovered time.Duration
}

// EtcdOutage runs 3 instances of the test app on 3 cells under 100
// requests/s, cuts etcd for 30 s (every lease lapses meanwhile: cells'
// presences and the singletons' locks), restores it, waits until the
// cluster is whole again and compares every instance before and after.
func EtcdOutage(env Env) (res EtcdOutageResult, err error) {
	outage, rate := etcdOutage, etcdOutageRate
	res = EtcdOutageResult{Outage: outage, Rate: rate}
	c, err := start(env, world.Options{Cells: 3})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid = "etcd-outage"
	if err := c.desire(c.app(guid, 3, nil), 2*time.Minute); err != nil {
		return res, err
	}
	before, err := c.instances(guid)
	if err != nil {
		return res, err
	}
	load := world.StartLoad(c.RouterURL, host(guid), rate)
	defer load.Stop()
	time.Sleep(3 * time.Second)
	probe := make(chan bool, 1)
	go func() {
		time.Sleep(outage / 4)
		_, err := c.Cells()
		probe <- err != nil
	}()
	back, err := c.cutFor("etcd", c.Config.EtcdPort, outage)
	if err != nil {
		return res, err
	}
	res.Unreachable = <-probe
	if err := c.waitWhole(guid, 3, 2*time.Minute); err != nil {
		return res, err
	}
	res.Recovered = time.Since(back)
	// Two convergence passes and more: what the converger would do to
	// instances of lapsed cells, it has done by now.
	time.Sleep(10 * time.Second)
	res.Load = load.Stop()
	after, err := c.instances(guid)
	if err != nil {
		return res, err
	}
	res.Restarted = restarted(before, after)
	return res, nil
}

// cutFor cuts what listens on port (named what) for outage, restores it
// and says when it was back.
func (c *cluster) cutFor(what string, port int, outage time.Duration) (time.Time, error) {
	c.logf("cutting %s (port %d) for %s", what, port, outage)
	if err := c.CutPort(port); err != nil {
		return time.Time{}, err
	}
	time.Sleep(outage)
	if err := c.RestorePort(port); err != nil {
		return time.Time{}, err
	}
	c.logf("%s is back", what)
	return time.Now(), nil
}

// waitWhole waits until every cell is present and n instances of guid run.
func (c *cluster) waitWhole(guid string, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		cells, err := c.Cells()
		if err != nil || len(cells) < c.Config.Cells {
			continue
		}
		if running, err := c.RunningIndices(guid); err == nil && len(running) == n {
			return nil
		}
	}
	return fmt.Errorf("the cluster was not whole again (%d cells, %d instances of %s) within %s", c.Config.Cells, n, guid, within)
}

// Figures implements Figured.
func (r EtcdOutageResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("etcd cut %s under %d req/s", r.Outage, r.Rate)
	return []benchreport.Figure{
		zero("faults", name+": failed requests", float64(r.Load.Failed), "requests"),
		zero("faults", name+": instances restarted", float64(len(r.Restarted)), "instances"),
		below("faults", name+": cells present and instances running again", r.Recovered.Seconds(), "s", 20),
		baseline("faults", name+": requests sent", float64(r.Load.Sent), "requests"),
	}
}
