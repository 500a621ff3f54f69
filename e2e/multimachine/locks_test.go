//go:build e2e

package multimachine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/lock"
)

func lockHolder(ctx context.Context, etcd *clientv3.Client, name string) (string, error) {
	return lock.Holder(ctx, etcd, name)
}

// brainOf says which brain a lock's holder value names, 0 if none: the
// auctioneer's is its URL, the route emitter's its id (route-emitter-brain-N),
// the converger's host:pid (the pid's network namespace tells the brain).
func brainOf(value string) int {
	for i := 1; i <= brains; i++ {
		m := brainMachine(i)
		if strings.Contains(value, "//"+m.IP+":") || strings.HasSuffix(value, "-"+m.Name) {
			return i
		}
	}
	_, p, ok := strings.Cut(value, ":")
	if !ok {
		return 0
	}
	pid, err := strconv.Atoi(p)
	if err != nil {
		return 0
	}
	out, err := exec.Command("ip", "netns", "identify", strconv.Itoa(pid)).Output()
	if err != nil {
		return 0
	}
	for i := 1; i <= brains; i++ {
		if strings.TrimSpace(string(out)) == brainMachine(i).Namespace {
			return i
		}
	}
	return 0
}

// acquired says whether brain i's singleton daemon name has logged that it
// holds its lock. The brains' singletons only ever take a lock over from
// the first brain, so one such line on a survivor is the takeover.
func (d *deployment) acquired(i int, name string) bool {
	data, err := os.ReadFile(filepath.Join(d.logs, brainMachine(i).Name+"-"+name+".log"))
	return err == nil && strings.Contains(string(data), `"message":"`+name+`.lock.acquired"`)
}
