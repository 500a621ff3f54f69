package auctioneer

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// DefaultRetryDelay is how long an item waits before a retry round.
const DefaultRetryDelay = time.Second

// Runner batches start requests and runs auctions while there is work. There
// is no tick: an idle runner starts an auction as soon as work arrives, and
// while one runs the next batch accumulates. Identical requests (the same
// process guid and index, or the same task guid) waiting in one batch are
// merged.
type Runner struct {
	Logger     lager.Logger
	Clock      clock.Clock
	Auctioneer *Auctioneer
	// RetryDelay holds back items to retry (refused, rejected, deferred), so a
	// retry sees fresh cell states. Default 1 s.
	RetryDelay time.Duration

	mu      sync.Mutex
	queue   queue
	retries []retry
	wake    chan struct{}
	once    sync.Once
	active  atomic.Bool
}

// Active reports whether the runner is running. In an auctioneer it runs only
// while the lock is held, so the API answers 503 otherwise.
func (r *Runner) Active() bool { return r.active.Load() }

type retry struct {
	at    time.Time
	batch Batch
}

// queue is a batch with de-duplication.
type queue struct {
	batch Batch
	lrps  map[models.ActualLRPKey]bool
	tasks map[string]bool
}

func (q *queue) addLRP(l LRPStart) {
	if q.lrps == nil {
		q.lrps = map[models.ActualLRPKey]bool{}
	}
	key := models.ActualLRPKey{ProcessGuid: l.ProcessGuid, Index: l.Index}
	if q.lrps[key] {
		return
	}
	q.lrps[key] = true
	q.batch.LRPs = append(q.batch.LRPs, l)
}

func (q *queue) addTask(t TaskStart) {
	if q.tasks == nil {
		q.tasks = map[string]bool{}
	}
	if q.tasks[t.TaskGuid] {
		return
	}
	q.tasks[t.TaskGuid] = true
	q.batch.Tasks = append(q.batch.Tasks, t)
}

func (r *Runner) init() {
	r.once.Do(func() { r.wake = make(chan struct{}, 1) })
}

// AddLRPs queues LRP indices for the next auction.
func (r *Runner) AddLRPs(items []LRPStart) {
	r.init()
	r.mu.Lock()
	for _, l := range items {
		r.queue.addLRP(l)
	}
	r.mu.Unlock()
	r.poke()
}

// AddTasks queues tasks for the next auction.
func (r *Runner) AddTasks(items []TaskStart) {
	r.init()
	r.mu.Lock()
	for _, t := range items {
		r.queue.addTask(t)
	}
	r.mu.Unlock()
	r.poke()
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take empties the queue and the retries that are due into one batch, and
// says when the next retry falls due (zero if none waits).
func (r *Runner) take(now time.Time) (Batch, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queue
	r.queue = queue{}
	var next time.Time
	kept := r.retries[:0]
	for _, rt := range r.retries {
		if rt.at.After(now) {
			kept = append(kept, rt)
			if next.IsZero() || rt.at.Before(next) {
				next = rt.at
			}
			continue
		}
		for _, l := range rt.batch.LRPs {
			q.addLRP(l)
		}
		for _, t := range rt.batch.Tasks {
			q.addTask(t)
		}
	}
	r.retries = kept
	return q.batch, next
}

// Run implements ifrit.Runner.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	r.init()
	logger := r.Logger.Session("auction-runner")
	delay := r.RetryDelay
	if delay <= 0 {
		delay = DefaultRetryDelay
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-signals:
			cancel()
		case <-stopped:
		}
	}()
	defer close(stopped)

	r.active.Store(true)
	defer r.active.Store(false)
	close(ready)
	logger.Info("started")
	for {
		batch, next := r.take(r.Clock.Now())
		if batch.Len() > 0 {
			report := r.Auctioneer.RunAuction(ctx, batch)
			if ctx.Err() != nil {
				logger.Info("stopped")
				return nil
			}
			if report.Retry.Len() > 0 {
				r.mu.Lock()
				r.retries = append(r.retries, retry{at: r.Clock.Now().Add(delay), batch: report.Retry})
				r.mu.Unlock()
			}
			continue
		}
		var timeout <-chan time.Time
		var timer clock.Timer
		if !next.IsZero() {
			timer = r.Clock.NewTimer(next.Sub(r.Clock.Now()))
			timeout = timer.C()
		}
		select {
		case <-ctx.Done():
			logger.Info("stopped")
			return nil
		case <-r.wake:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}
