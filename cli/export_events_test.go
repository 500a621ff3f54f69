package cli

import (
	"context"
	"io"
)

// Event stream paths `diego events` reads.
const (
	LRPEventsPath  = lrpEventsPath
	TaskEventsPath = taskEventsPath
)

// FollowEvents runs what `diego events` runs against target, printing to out.
func FollowEvents(ctx context.Context, target string, out io.Writer, paths ...string) error {
	return followEvents(ctx, &Globals{Target: target, Out: out}, paths)
}
