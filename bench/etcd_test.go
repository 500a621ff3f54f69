package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"code.cloudfoundry.org/lager/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/models"
)

const (
	etcdMembers     = 3
	etcdWrites      = 400
	etcdKillAfter   = etcdWrites / 2
	etcdWriteTries  = 10
	etcdStallTarget = 10.0 // s: the longest a write may wait while the cluster elects a new leader
)

// BenchmarkEtcdMemberLoss writes desired LRPs through the BBS's store (bbs.DB)
// over a client given all three members of an embedded etcd cluster, kills
// the leader half way (a hard stop: no leadership transfer, no goodbye), and
// checks that the API keeps serving and that every acknowledged write is
// still readable.
func BenchmarkEtcdMemberLoss(b *testing.B) {
	for range b.N {
		benchEtcdMemberLoss(b)
	}
}

func benchEtcdMemberLoss(b *testing.B) {
	dir, err := os.MkdirTemp("/tmp", "diego-bench-etcd-")
	must(b, err)
	defer os.RemoveAll(dir)
	members := startEtcdCluster(b, dir)
	defer func() {
		for _, m := range members {
			if m != nil {
				m.Close()
			}
		}
	}()
	var endpoints []string
	for _, m := range members {
		endpoints = append(endpoints, m.Config().ListenClientUrls[0].String())
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	must(b, err)
	defer client.Close()
	logger := lager.NewLogger("bench")
	db, err := bbs.New(bbs.Options{Client: client, Logger: logger, RequestTimeout: 5 * time.Second})
	must(b, err)

	ctx := context.Background()
	var acked []string
	failed, retried := 0, 0
	var longest time.Duration
	killedAt := time.Time{}
	for i := range etcdWrites {
		if i == etcdKillAfter {
			leader := leaderIndex(members)
			b.Logf("hard-stopping etcd member %d (the leader) after %d writes", leader, i)
			members[leader].Server.HardStop()
			members[leader].Close()
			members[leader] = nil
			killedAt = time.Now()
		}
		guid := fmt.Sprintf("etcd-bench-%d", i)
		lrp := benchLRP(guid)
		start := time.Now()
		ok := false
		for try := range etcdWriteTries {
			err := db.DesireLRP(ctx, logger, lrp)
			if err == nil || (try > 0 && errors.Is(err, models.ErrDesiredLRPAlreadyExists)) {
				ok = true
				break
			}
			retried++
			time.Sleep(200 * time.Millisecond)
		}
		longest = max(longest, time.Since(start))
		if ok {
			acked = append(acked, guid)
		} else {
			failed++
		}
	}
	b.Logf("etcd: %d writes acknowledged, %d failed, %d retries; the leader was killed %s into the run", len(acked), failed, retried, killedAt.Format(time.TimeOnly))

	lost := 0
	for _, guid := range acked {
		if _, err := db.DesiredLRPByProcessGuid(ctx, logger, guid); err != nil {
			lost++
		}
	}
	name := fmt.Sprintf("%d-member etcd, leader killed after %d of %d BBS writes", etcdMembers, etcdKillAfter, etcdWrites)
	benchreport.Record(benchreport.Figure{Area: "control", Name: name + ": acknowledged writes lost", Value: float64(lost),
		Unit: "writes", Target: "0 writes", Met: lost == 0})
	benchreport.Record(benchreport.Figure{Area: "control", Name: name + ": writes failed after retries", Value: float64(failed),
		Unit: "writes", Target: "0 writes", Met: failed == 0})
	benchreport.Below("control", name+": longest write", longest.Seconds(), "s", etcdStallTarget)
}

func benchLRP(guid string) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: "bench", Instances: 0, RootFS: "docker:///bench#latest",
		MemoryMB: 32, DiskMB: 64, LogGuid: guid, MetricsGuid: guid,
		Action: &models.Action{Run: &models.RunAction{Path: "/app/httpapp"}},
	}
}

// startEtcdCluster starts three embedded members on free loopback ports.
func startEtcdCluster(b *testing.B, dir string) []*embed.Etcd {
	b.Helper()
	clientURLs := make([]url.URL, etcdMembers)
	peerURLs := make([]url.URL, etcdMembers)
	var initial []string
	for i := range etcdMembers {
		clientURLs[i] = freeURL(b)
		peerURLs[i] = freeURL(b)
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peerURLs[i].String()))
	}
	members := make([]*embed.Etcd, etcdMembers)
	for i := range etcdMembers {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(dir, cfg.Name)
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURLs[i]}, []url.URL{clientURLs[i]}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURLs[i]}, []url.URL{peerURLs[i]}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "diego-bench"
		cfg.LogLevel = "fatal"
		cfg.MaxTxnOps = 1024
		e, err := embed.StartEtcd(cfg)
		must(b, err)
		members[i] = e
	}
	for _, e := range members {
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(time.Minute):
			b.Fatal("the etcd cluster did not form within a minute")
		}
	}
	return members
}

func leaderIndex(members []*embed.Etcd) int {
	for i, m := range members {
		if m != nil && m.Server.Leader() == m.Server.MemberID() {
			return i
		}
	}
	return 0
}

func freeURL(b *testing.B) url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}
