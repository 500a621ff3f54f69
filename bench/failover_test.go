package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/cluster"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/lock"
	"github.com/diego-runtime/diego/models"
)

const (
	failoverLockTTL   = 5 * time.Second
	failoverInstances = 20
	failoverScaleTo   = 30
	bbsLoadFor        = 12 * time.Second
	bbsKillAfter      = 4 * time.Second
	bbsWriteTimeout   = time.Minute
)

// BenchmarkControlPlane runs a 3-cell cluster with a standby for each
// singleton daemon (auctioneer, converger, route emitter; lock TTL 5 s) and an
// app of 20 instances. It SIGKILLs each active daemon in turn and measures how
// long the standby takes to hold the lock, then scales the app to 30 (which
// needs the new auctioneer and converger) and checks that no instance was lost
// or duplicated and that the router (fed by the new route emitter) serves
// them. Then it restarts the BBS under a client loop of writes and checks that
// every acknowledged write is there.
func BenchmarkControlPlane(b *testing.B) {
	for range b.N {
		benchControlPlane(b)
	}
}

func benchControlPlane(b *testing.B) {
	w := startWorld(b, 3, func(cfg *cluster.Config) {
		cfg.Standbys = 1
		cfg.LockTTL = failoverLockTTL
		cfg.PresenceTTL = 5 * time.Second
		cfg.HeartbeatInterval = time.Second
		cfg.ConvergenceInterval = 5 * time.Second
	})
	defer w.stop()
	const app = "failover"
	w.createApp(app, failoverInstances)
	_, err := w.waitRunning(app, failoverInstances, nil, time.Now(), 3*time.Minute)
	must(b, err)

	// The cluster's etcd wants a client certificate: read it as the converger.
	etcd, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{w.cluster.Addresses.Etcd},
		TLS: w.cfg.EtcdTLSFor(certs.Of(certs.RoleConverger))})
	must(b, err)
	defer etcd.Close()

	for _, daemon := range []string{"auctioneer", "converger", "route-emitter"} {
		before, err := lockHolderKey(etcd, daemon)
		must(b, err)
		w.killDaemon(daemon)
		killed := time.Now()
		var after string
		for time.Since(killed) < 4*failoverLockTTL {
			if after, err = lockHolderKey(etcd, daemon); err == nil && after != before {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(killed)
		if after == before || after == "" {
			b.Logf("%s: no standby took the lock within %s", daemon, 4*failoverLockTTL)
		}
		benchreport.Below("control", fmt.Sprintf("%s killed: standby holds the lock (lock TTL %s)", daemon, failoverLockTTL),
			took.Seconds(), "s", failoverLockTTL.Seconds())
	}

	// The new actives at work: scale, then count instances by index.
	must(b, w.scale(app, failoverScaleTo))
	_, runErr := w.waitRunning(app, failoverScaleTo, nil, time.Now(), 2*time.Minute)
	if runErr != nil {
		b.Logf("after failover: %v", runErr)
	}
	time.Sleep(2 * failoverLockTTL) // let a late duplicate show itself
	lrps, err := w.actualLRPs(app)
	must(b, err)
	lost, duplicated := countByIndex(lrps, failoverScaleTo)
	name := fmt.Sprintf("after the 3 failovers, %d -> %d instances", failoverInstances, failoverScaleTo)
	benchreport.Record(benchreport.Figure{Area: "control", Name: name + ": instances lost", Value: float64(lost),
		Unit: "instances", Target: "0 instances", Met: lost == 0})
	benchreport.Record(benchreport.Figure{Area: "control", Name: name + ": instances duplicated", Value: float64(duplicated),
		Unit: "instances", Target: "0 instances", Met: duplicated == 0})
	seen := routedInstances(w, app, failoverScaleTo, time.Minute)
	benchreport.Record(benchreport.Figure{Area: "control", Name: name + ": instances the router serves", Value: float64(seen),
		Unit: "instances", Target: fmt.Sprintf("%d instances", failoverScaleTo), Met: seen == failoverScaleTo})

	bbsRestart(b, w)
}

// lockHolderKey is the key of the current holder of a singleton's lock (the
// oldest contender's), which changes when a standby takes over.
func lockHolderKey(etcd *clientv3.Client, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := etcd.Get(ctx, lock.Prefix+name+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", err
	}
	if len(resp.Kvs) == 0 {
		return "", lock.ErrNoHolder
	}
	return string(resp.Kvs[0].Key), nil
}

// countByIndex says how many indices below n have no RUNNING ordinary
// instance and how many have more than one ordinary record.
func countByIndex(lrps []*models.ActualLRP, n int) (lost, duplicated int) {
	running := map[int]int{}
	records := map[int]int{}
	for _, a := range lrps {
		if a.Presence != "" && a.Presence != models.PresenceOrdinary {
			continue
		}
		records[a.Index]++
		if a.State == models.ActualLRPStateRunning {
			running[a.Index]++
		}
	}
	for i := range n {
		if running[i] == 0 {
			lost++
		}
		if records[i] > 1 || running[i] > 1 {
			duplicated++
		}
	}
	for i := range records {
		if i >= n {
			duplicated++
		}
	}
	return lost, duplicated
}

// routedInstances counts the distinct instances the router serves for app
// within timeout, stopping at want.
func routedInstances(w *world, app string, want int, timeout time.Duration) int {
	seen := map[string]bool{}
	deadline := time.Now().Add(timeout)
	httpClient := &http.Client{Timeout: 5 * time.Second}
	for len(seen) < want && time.Now().Before(deadline) {
		if guid, status, err := routerGet(context.Background(), httpClient, w.cluster.Addresses.Router, app); err == nil && status == http.StatusOK && guid != "" {
			seen[guid] = true
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return len(seen)
}

// bbsRestart runs a client loop that desires LRPs and updates their
// annotations through the BBS API while the BBS is SIGKILLed and started
// again; the client retries each write until it is acknowledged (a write that
// timed out may have landed: AlreadyExists after a retry counts as done).
// Every acknowledged write must then be readable.
func bbsRestart(b *testing.B, w *world) {
	// The BBS serves mutual TLS only, and lets the receptor's role desire LRPs.
	bbsURL := fmt.Sprintf("https://127.0.0.1:%d", w.cfg.BBSPort)
	httpClient, err := w.cfg.LinkClient(certs.Of(certs.RoleReceptor), 5*time.Second)
	must(b, err)
	api := client.NewClient(httpClient, bbsURL)
	logger := lager.NewLogger("bench")
	ctx := context.Background()

	retry := func(op func() error, done func(error) bool) (int, error) {
		deadline := time.Now().Add(bbsWriteTimeout)
		for tries := 0; ; tries++ {
			err := op()
			if err == nil || (tries > 0 && done(err)) {
				return tries, nil
			}
			if time.Now().After(deadline) {
				return tries, err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	acked := map[string]string{} // guid -> last acknowledged annotation
	failed, retries, writes := 0, 0, 0
	var longest time.Duration
	stop := time.Now().Add(bbsLoadFor)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(bbsKillAfter)
		w.killDaemon("bbs")
		time.Sleep(500 * time.Millisecond)
		w.startDaemon("bbs", "bbs")
	}()
	for i := 0; time.Now().Before(stop); i++ {
		guid := fmt.Sprintf("bbs-restart-%d", i)
		start := time.Now()
		tries, err := retry(func() error { return api.DesireLRP(ctx, logger, benchLRP(guid)) },
			func(err error) bool { return errors.Is(err, models.ErrDesiredLRPAlreadyExists) })
		retries += tries
		if err != nil {
			failed++
			continue
		}
		writes++
		note := fmt.Sprintf("updated-%d", i)
		tries, err = retry(func() error {
			return api.UpdateDesiredLRP(ctx, logger, guid, models.DesiredLRPUpdate{Annotation: &note})
		}, func(error) bool { return false })
		retries += tries
		longest = max(longest, time.Since(start))
		if err != nil {
			failed++
			acked[guid] = ""
		} else {
			writes++
			acked[guid] = note
		}
	}
	wg.Wait()

	lost := 0
	for guid, note := range acked {
		var lrp *models.DesiredLRP
		_, err := retry(func() (err error) { lrp, err = api.DesiredLRPByProcessGuid(ctx, logger, guid); return err },
			func(error) bool { return false })
		if err != nil || (note != "" && lrp.Annotation != note) {
			lost++
		}
	}
	b.Logf("bbs restart: %d LRPs desired and updated, %d writes failed, %d retries, longest write %s", len(acked), failed, retries, longest)
	name := "BBS SIGKILLed and restarted under a write loop"
	benchreport.Baseline("control", name+": writes acknowledged", float64(writes), "writes")
	benchreport.Record(benchreport.Figure{Area: "control", Name: name + ": acknowledged writes lost", Value: float64(lost),
		Unit: "writes", Target: "0 writes", Met: lost == 0})
	benchreport.Record(benchreport.Figure{Area: "control", Name: name + ": writes failed after retries", Value: float64(failed),
		Unit: "writes", Target: "0 writes", Met: failed == 0})
	benchreport.Baseline("control", name+": longest desire+update with retries", longest.Seconds(), "s")
}
