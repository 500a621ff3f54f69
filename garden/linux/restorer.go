package linux

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// restorer runs this garden's iptables-restore calls one process at a time
// and merges the scripts that queue while one runs into the next process (a
// group commit). Every run costs a process and a fetch of the tables it
// touches, which grow with the containers: about 9 ms of CPU per run with
// 300 containers' chains on the 2-core machine, 1.5 ms per script when eight
// share a run. Concurrent runs also collide in the kernel's ruleset
// generation and retry.
//
// With iptables' nf_tables backend one input is one transaction, so a merged
// run that fails has changed nothing, and each of its scripts then runs on
// its own for its own answer. The legacy backend commits table by table, so
// there no two scripts share a run.
//
// A caller waits for its script's answer even when its context ends: once
// queued, the script may be applied, and the caller must know whether it
// was to undo it.
type restorer struct {
	once  sync.Once
	merge bool

	mu    sync.Mutex
	queue []*restoreJob
	busy  bool // a goroutine is draining the queue

	runs atomic.Int64 // processes started
}

type restoreJob struct {
	script string
	done   chan error
}

// restoreTimeout bounds one iptables-restore process; -w 5 already bounds
// its wait for the xtables lock.
const restoreTimeout = 30 * time.Second

func (r *restorer) restore(ctx context.Context, script string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.once.Do(func() { r.merge = nftBackend() })
	if !strings.HasSuffix(script, "\n") {
		script += "\n"
	}
	job := &restoreJob{script: script, done: make(chan error, 1)}
	r.mu.Lock()
	r.queue = append(r.queue, job)
	start := !r.busy
	r.busy = true
	r.mu.Unlock()
	if start {
		go r.drain()
	}
	return <-job.done
}

// drain runs what is queued, batch by batch, until the queue is empty.
func (r *restorer) drain() {
	for {
		r.mu.Lock()
		batch := r.queue
		r.queue = nil
		if len(batch) == 0 {
			r.busy = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		r.run(batch)
	}
}

func (r *restorer) run(batch []*restoreJob) {
	if len(batch) > 1 && r.merge {
		var all strings.Builder
		for _, job := range batch {
			all.WriteString(job.script)
		}
		if r.runOne(all.String()) == nil {
			for _, job := range batch {
				job.done <- nil
			}
			return
		}
	}
	for _, job := range batch {
		job.done <- r.runOne(job.script)
	}
}

func (r *restorer) runOne(script string) error {
	r.runs.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "iptables-restore", "--noflush", "-w", "5")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables-restore: %w: %s\nscript:\n%s", err, bytes.TrimSpace(out), script)
	}
	return nil
}

// nftBackend says whether iptables-restore is the nf_tables one ("iptables-
// restore v1.8.9 (nf_tables)"); when it cannot tell, it answers no, and
// scripts run one by one.
func nftBackend() bool {
	out, err := exec.Command("iptables-restore", "-V").CombinedOutput()
	return err == nil && bytes.Contains(out, []byte("nf_tables"))
}
