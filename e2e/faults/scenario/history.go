package scenario

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	diegocluster "github.com/diego-runtime/diego/cluster"
	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/routing/router"
)

// CompactedResumeResult is how the route emitter came back from a resume
// point that had been compacted away.
type CompactedResumeResult struct {
	// Resynced says the emitter logged that it resynced from a snapshot
	// because its resume point was compacted.
	Resynced bool
	// Corrected is how long after its link came back the router served the
	// new route and no longer the old one.
	Corrected time.Duration
}

// CompactedResume points the route emitter at the BBS through a relay,
// breaks that one link (its event stream ends, its resubscriptions fail), moves an app to a new hostname meanwhile, compacts
// etcd past every event the emitter saw, and restores the link.
func CompactedResume(env Env) (res CompactedResumeResult, err error) {
	planned := diegocluster.DefaultConfig()
	planned.ShiftPorts(env.PortOffset)
	relay, err := world.NewRelay(fmt.Sprintf("127.0.0.1:%d", planned.BBSPort))
	if err != nil {
		return res, err
	}
	defer relay.Close()
	c, err := start(env, world.Options{Cells: 2, Settings: []string{
		fmt.Sprintf(`route-emitter.bbs_urls=["https://127.0.0.1:%d"]`, relay.Port())}})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid, moved = "compacted", "compacted-moved"
	if err := c.desire(c.app(guid, 1, nil), 2*time.Minute); err != nil {
		return res, err
	}
	c.logf("breaking the route emitter's link to the BBS")
	relay.Break()
	time.Sleep(2 * time.Second)
	// Two changes, so that the compaction below (up to the last) takes away
	// the first event after the emitter's resume point, not only those
	// before it.
	for _, hostname := range []string{host(guid + "-passing"), host(moved)} {
		if err := c.expect(http.MethodPut, "/v1/desired_lrps/"+guid, J{"routes": routes(hostname)}, http.StatusNoContent); err != nil {
			return res, err
		}
	}
	if err := compact(c); err != nil {
		return res, err
	}
	relay.Mend()
	back := time.Now()
	for deadline := back.Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the router did not serve %s only at %s within a minute of the link's return", guid, host(moved))
		}
		newer, errNew := c.Get(host(moved), "/")
		older, errOld := c.Get(host(guid), "/")
		if errNew == nil && errOld == nil && newer.Status == http.StatusOK &&
			older.Status == http.StatusNotFound && older.Header.Get(router.HeaderRouterError) == "unknown_route" {
			break
		}
	}
	res.Corrected = time.Since(back)
	logged, err := os.ReadFile(c.LogPath("route-emitter"))
	if err != nil {
		return res, err
	}
	res.Resynced = strings.Contains(string(logged), `event-history-compacted-resyncing"`)
	return res, nil
}

// compact compacts etcd's history up to its current revision.
func compact(c *cluster) error {
	etcd, err := c.Etcd()
	if err != nil {
		return err
	}
	defer etcd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := etcd.Get(ctx, "/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	_, err = etcd.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	return err
}

// Figures implements Figured.
func (r CompactedResumeResult) Figures() []benchreport.Figure {
	resynced := 1.0
	if r.Resynced {
		resynced = 0
	}
	return []benchreport.Figure{
		zero("faults", "route emitter resuming into compacted history: resumes without a resync", resynced, "resumes"),
		below("faults", "route emitter resuming into compacted history: routes correct again", r.Corrected.Seconds(), "s", 10),
	}
}
