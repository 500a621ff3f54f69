package linux

import (
	"context"

	"golang.org/x/sys/unix"
)

// LogPrefix is logPrefix, for the specs.
var LogPrefix = logPrefix

// CgroupVersion is the host's cgroup mode (1 or 2), as garden detects it.
func CgroupVersion() int {
	m, err := detectCgroups("")
	if err != nil {
		panic(err)
	}
	return m.version()
}

// PooledNetworks waits until the network pool has stopped filling and says
// how many entries it holds.
func (b *Backend) PooledNetworks() int {
	b.netPool.wait()
	return b.netPool.readyCount()
}

// PooledNetnsInodes waits until the network pool has stopped filling and
// returns the inode of each ready entry's network namespace.
func (b *Backend) PooledNetnsInodes() []uint64 {
	b.netPool.wait()
	b.netPool.mu.Lock()
	defer b.netPool.mu.Unlock()
	var out []uint64
	for _, e := range b.netPool.ready {
		var st unix.Stat_t
		if err := unix.Fstat(int(e.netns.Fd()), &st); err != nil {
			panic(err)
		}
		out = append(out, st.Ino)
	}
	return out
}

// Restorer is garden's iptables-restore runner, merging or not, for the specs.
type Restorer struct{ r restorer }

func NewRestorer(merge bool) *Restorer {
	x := &Restorer{}
	x.r.once.Do(func() { x.r.merge = merge })
	return x
}

// NFTablesBackend says whether this machine's iptables-restore is nf_tables.
var NFTablesBackend = nftBackend

func (x *Restorer) Restore(ctx context.Context, script string) error { return x.r.restore(ctx, script) }

// Runs counts the iptables-restore processes started.
func (x *Restorer) Runs() int64 { return x.r.runs.Load() }
