package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/diego-runtime/diego/models"
)

// Wait defaults, for every command that waits for an app's instances.
const (
	// DefaultWaitTimeout bounds a wait (--timeout).
	DefaultWaitTimeout = 5 * time.Minute
	// DefaultDemoWaitTimeout bounds demo's wait: a few instances of a tiny
	// image on this machine.
	DefaultDemoWaitTimeout = 3 * time.Minute
	// DefaultMaxCrashes gives up once every instance crashed this often
	// (--max-crashes): the third crash is the first that the BBS does not
	// restart at once (DESIGN 6.3), so waiting longer only waits out backoff.
	DefaultMaxCrashes = 3
	// unplaceableFor is how long an unclaimed instance must carry a
	// placement error before a wait gives up: one failed auction may be a
	// moment's shortage, the auctioneer's retry a second later (its
	// retry_delay) is not.
	unplaceableFor = time.Second
	// waitPoll is how often a wait looks at the instances.
	waitPoll = 250 * time.Millisecond
)

// waitOptions are the flags of a command that waits.
type waitOptions struct {
	noWait     bool
	timeout    time.Duration
	maxCrashes int
}

// bind adds --timeout and --max-crashes, and --no-wait if skippable.
func (o *waitOptions) bind(f *pflag.FlagSet, timeout time.Duration, skippable bool) {
	if skippable {
		f.BoolVar(&o.noWait, "no-wait", false, "return without waiting for the instances")
	}
	f.DurationVar(&o.timeout, "timeout", timeout, "how long to wait for every instance to run")
	f.IntVar(&o.maxCrashes, "max-crashes", DefaultMaxCrashes, "give up once every instance crashed this many times (0: never)")
}

// GaveUpError says why a wait stopped before every instance ran: Cause in
// the wait's words, Reason the latest crash reason or placement error.
type GaveUpError struct {
	App    string
	Cause  string
	Reason string
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.App, e.Cause, e.Reason)
}

// watch follows one wait for n instances of app. It decides from what it
// is shown and the time it is told, and does no I/O.
type watch struct {
	app        string
	n          int
	maxCrashes int
	// unplaceableSince is when each unclaimed index was first seen with a
	// placement error, in this run of errors.
	unplaceableSince map[int]time.Time
	// told is the last note printed per index, so each is printed once.
	told map[int]string
	// crashesBefore is each index's crash count when first seen: only a
	// crash during this wait counts toward giving up, so that an app that
	// crashed out before (under a broken state dir, say) and now waits out
	// its backoff is given its restart.
	crashesBefore map[int]int
}

func newWatch(app string, n, maxCrashes int) *watch {
	return &watch{app: app, n: n, maxCrashes: maxCrashes,
		unplaceableSince: map[int]time.Time{}, told: map[int]string{}, crashesBefore: map[int]int{}}
}

// verdict is what one look at the instances says.
type verdict struct {
	running, crashed int
	done             bool
	notes            []string // new news of failing instances, to print
	giveUp           *GaveUpError
	// lastTrouble is the latest crash reason or placement error of an
	// instance that is not running, for a wait that times out.
	lastTrouble string
}

// observe looks at the app's actual LRPs at now.
func (w *watch) observe(lrps []*models.ActualLRP, now time.Time) verdict {
	byIndex := map[int]*models.ActualLRP{}
	for _, a := range ordinary(lrps) {
		if a.Index < w.n {
			byIndex[a.Index] = a
		}
	}
	v := verdict{done: len(ordinary(lrps)) == w.n}
	allCrashedOut := w.n > 0 && w.maxCrashes > 0
	var lastCrash *models.ActualLRP
	unclaimed, unplaceable := 0, 0
	var placementError string
	for i := 0; i < w.n; i++ {
		a := byIndex[i]
		if a == nil {
			allCrashedOut, v.done = false, false
			delete(w.unplaceableSince, i)
			continue
		}
		switch a.State {
		case models.ActualLRPStateRunning:
			v.running++
		case models.ActualLRPStateCrashed:
			v.crashed++
		}
		if a.State != models.ActualLRPStateRunning {
			v.done = false
			if a.CrashCount > 0 && a.CrashReason != "" && (lastCrash == nil || a.Since > lastCrash.Since) {
				lastCrash = a
			}
		}
		if !w.crashedOut(i, a) {
			allCrashedOut = false
		}
		if a.State == models.ActualLRPStateUnclaimed {
			unclaimed++
			if a.PlacementError != "" {
				v.lastTrouble = a.PlacementError
			}
		}
		if w.unplaceable(i, a, now) {
			unplaceable++
			placementError = a.PlacementError
		}
		if note := w.note(a); note != "" && note != w.told[i] {
			v.notes = append(v.notes, note)
			w.told[i] = note
		}
	}
	if v.lastTrouble == "" && lastCrash != nil {
		v.lastTrouble = lastCrash.CrashReason
	}
	switch {
	case v.done:
	case allCrashedOut:
		reason := "no crash reason recorded"
		if lastCrash != nil {
			reason = lastCrash.CrashReason
		}
		v.giveUp = &GaveUpError{App: w.app, Cause: fmt.Sprintf("every instance crashed %d times or more", w.maxCrashes), Reason: reason}
	case unplaceable > 0:
		// One instance the auction cannot place keeps the wait from ever
		// ending (the app's own running instances hold what it lacks), even
		// while other indices still wait for their first auction.
		v.giveUp = &GaveUpError{App: w.app, Cause: fmt.Sprintf("%d instance(s) cannot be placed", unplaceable), Reason: placementError}
	}
	return v
}

// crashedOut says whether index i, now a, is down having crashed at least
// maxCrashes times, one of them during this wait.
func (w *watch) crashedOut(i int, a *models.ActualLRP) bool {
	before, seen := w.crashesBefore[i]
	if !seen {
		before = a.CrashCount
		w.crashesBefore[i] = before
	}
	return a.State != models.ActualLRPStateRunning && a.CrashCount >= w.maxCrashes && a.CrashCount > before
}

// unplaceable says whether index i, now a, is unclaimed and has carried a
// placement error for unplaceableFor without a break.
func (w *watch) unplaceable(i int, a *models.ActualLRP, now time.Time) bool {
	if a.State != models.ActualLRPStateUnclaimed || a.PlacementError == "" {
		delete(w.unplaceableSince, i)
		return false
	}
	since, ok := w.unplaceableSince[i]
	if !ok {
		since = now
		w.unplaceableSince[i] = now
	}
	return now.Sub(since) >= unplaceableFor
}

// note is what to say about an instance that is not running: its placement
// error, else its latest crash; "" for a running or untroubled one.
func (w *watch) note(a *models.ActualLRP) string {
	if a.State == models.ActualLRPStateRunning {
		return ""
	}
	prefix := fmt.Sprintf("  %s/%d ", w.app, a.Index)
	if a.PlacementError != "" {
		return prefix + "cannot be placed: " + a.PlacementError
	}
	if a.CrashCount > 0 && a.CrashReason != "" {
		times := "times"
		if a.CrashCount == 1 {
			times = "time"
		}
		return fmt.Sprintf("%scrashed %d %s: %s", prefix, a.CrashCount, times, a.CrashReason)
	}
	return ""
}

// waitRunning draws a progress bar until exactly n instances of app run,
// printing each failing instance's latest crash reason or placement error
// as it changes, and gives up early when waiting cannot succeed.
func waitRunning(ctx context.Context, g *Globals, api *API, app string, n int, o waitOptions) error {
	clk := g.clock()
	started := clk.Now()
	deadline := started.Add(o.timeout)
	w := newWatch(app, n, o.maxCrashes)
	barWidth := 0
	for {
		lrps, err := api.actualLRPs(ctx, app)
		if err != nil {
			return err
		}
		v := w.observe(lrps, clk.Now())
		// A note takes the progress line's place (padded over it) and the
		// bar is drawn again below, so notes read as a log above the bar.
		for _, note := range v.notes {
			fmt.Fprintf(g.Out, "\r%-*s\n", barWidth, note)
		}
		line := fmt.Sprintf("%s %d/%d running", bar(v.running, n, 30), v.running, n)
		if v.crashed > 0 {
			line += fmt.Sprintf(", %d crashed", v.crashed)
		}
		fmt.Fprintf(g.Out, "\r%-*s", barWidth, line)
		barWidth = max(barWidth, len(line))
		switch {
		case v.done:
			fmt.Fprintf(g.Out, "\n%s: %d instance(s) running (%.1fs)\n", app, n, clk.Since(started).Seconds())
			return nil
		case v.giveUp != nil:
			fmt.Fprintln(g.Out)
			return v.giveUp
		case clk.Now().After(deadline):
			fmt.Fprintln(g.Out)
			err := fmt.Errorf("timed out after %s with %d of %d instances running", o.timeout, v.running, n)
			if v.lastTrouble != "" {
				err = fmt.Errorf("%w; last trouble: %s", err, v.lastTrouble)
			}
			return err
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(g.Out)
			return ctx.Err()
		case <-clk.After(waitPoll):
		}
	}
}

func bar(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("=", width) + "]"
	}
	filled := done * width / total
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
}
