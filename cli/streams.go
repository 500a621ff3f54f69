package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
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

func newEventsCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "events",
		Short: "Stream every change of LRPs and tasks as it happens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.api().sse(cmd.Context(), "/v1/events", func(event string, data []byte) bool {
				fmt.Fprintf(g.Out, "%s %s\n", event, data)
				return true
			})
		},
	}
}
