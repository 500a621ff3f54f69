package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/diego-runtime/diego/models"
)

func newLogsCommand(g *Globals) *cobra.Command {
	var recent int
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs APP",
		Short: "Show an app's log stream: every instance, recent lines first, then live",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api := g.api()
			logGuid, err := api.logGuidOf(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			path := "/v1/logs/" + url.PathEscape(logGuid) + "?recent=" + strconv.Itoa(recent)
			if follow {
				path += "&follow=true"
			}
			return api.sse(cmd.Context(), path, func(event string, data []byte) bool {
				var env models.LogEnvelope
				if json.Unmarshal(data, &env) != nil {
					return true
				}
				fmt.Fprintln(g.Out, formatLog(env))
				return true
			})
		},
	}
	cmd.Flags().IntVarP(&recent, "recent", "n", 100, "how many recent lines to show first")
	cmd.Flags().BoolVarP(&follow, "follow", "f", true, "keep streaming new lines")
	return cmd
}

// formatLog renders "15:04:05.000 [APP/2] OUT message".
func formatLog(env models.LogEnvelope) string {
	ts := time.Unix(0, env.Timestamp).Format("15:04:05.000")
	return fmt.Sprintf("%s [%s/%s] %s %s", ts, env.SourceType, env.SourceInstance, env.MessageType, env.Message)
}

// Event streams of the receptor: LRP events on /v1/events (the 2015 stream),
// task events on /v1/events/tasks.
const (
	lrpEventsPath  = "/v1/events"
	taskEventsPath = "/v1/events/tasks"
)

func newEventsCommand(g *Globals) *cobra.Command {
	var only string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Stream every change of LRPs and tasks as it happens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var paths []string
			switch only {
			case "":
				paths = []string{lrpEventsPath, taskEventsPath}
			case "lrps":
				paths = []string{lrpEventsPath}
			case "tasks":
				paths = []string{taskEventsPath}
			default:
				return fmt.Errorf("--only must be lrps or tasks, not %q", only)
			}
			return followEvents(cmd.Context(), g, paths)
		},
	}
	cmd.Flags().StringVar(&only, "only", "", "stream only lrps or only tasks (default both)")
	return cmd
}

// followEvents prints the events of every stream in paths as they come, one
// line each, until one stream ends (the others are then closed) or ctx ends.
func followEvents(ctx context.Context, g *Globals, paths []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // one line at a time from concurrent streams
	print := func(event string, data []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(g.Out, "%s %s\n", event, data)
		return true
	}
	errs := make(chan error, len(paths))
	for _, path := range paths {
		go func(path string) {
			if err := g.api().sse(ctx, path, print); err != nil {
				errs <- fmt.Errorf("reading %s: %w", path, err)
				return
			}
			errs <- nil
		}(path)
	}
	first := <-errs
	cancel()
	for range paths[1:] {
		<-errs
	}
	return first
}
