package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/diego-runtime/diego/models"
)

const (
	colorReset  = "\033[0m"
	colorGreen  = "\033[32m"
	colorYellow = "\033[33m"
	colorRed    = "\033[31m"
	colorGray   = "\033[90m"
	colorCyan   = "\033[36m"
)

func newVisualizeCommand(g *Globals) *cobra.Command {
	var interval time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "visualize",
		Short: "A live map of cells (by zone) and their instances, coloured by state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api := g.api()
			for {
				cells, err := api.cells(cmd.Context())
				if err != nil {
					return err
				}
				actual, err := api.actualLRPs(cmd.Context(), "")
				if err != nil {
					return err
				}
				if !once {
					fmt.Fprint(g.Out, "\033[H\033[2J")
				}
				drawMap(g.Out, cells, actual)
				if once {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "refresh interval")
	cmd.Flags().BoolVar(&once, "once", false, "draw once and exit")
	return cmd
}

// drawMap prints one line per cell, grouped by zone, with a coloured block per
// instance: green running, yellow claimed, cyan evacuating, gray suspect;
// unplaced and crashed instances are counted below.
func drawMap(w io.Writer, cells []*models.CellPresence, actual []*models.ActualLRP) {
	byCell := map[string][]*models.ActualLRP{}
	pending, crashed := 0, 0
	for _, a := range actual {
		switch {
		case a.State == models.ActualLRPStateUnclaimed:
			pending++
		case a.State == models.ActualLRPStateCrashed:
			crashed++
		default:
			byCell[a.CellID] = append(byCell[a.CellID], a)
		}
	}
	zones := map[string][]*models.CellPresence{}
	for _, c := range cells {
		zones[c.Zone] = append(zones[c.Zone], c)
	}
	var names []string
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "Diego: %d cells, %d instances (%s)\n", len(cells), len(actual), time.Now().Format("15:04:05"))
	for _, z := range names {
		fmt.Fprintf(w, "zone %s\n", z)
		sort.Slice(zones[z], func(i, j int) bool { return zones[z][i].CellID < zones[z][j].CellID })
		for _, c := range zones[z] {
			list := byCell[c.CellID]
			sort.Slice(list, func(i, j int) bool {
				if list[i].ProcessGuid != list[j].ProcessGuid {
					return list[i].ProcessGuid < list[j].ProcessGuid
				}
				return list[i].Index < list[j].Index
			})
			var b strings.Builder
			for _, a := range list {
				b.WriteString(blockColor(a) + "█" + colorReset)
			}
			fmt.Fprintf(w, "  %-10s %3d %s\n", c.CellID, len(list), b.String())
		}
	}
	fmt.Fprintf(w, "pending %d   crashed %d   %s█%s running %s█%s starting %s█%s evacuating %s█%s suspect\n",
		pending, crashed, colorGreen, colorReset, colorYellow, colorReset, colorCyan, colorReset, colorGray, colorReset)
}

func blockColor(a *models.ActualLRP) string {
	switch {
	case a.Presence == models.PresenceEvacuating:
		return colorCyan
	case a.Presence == models.PresenceSuspect:
		return colorGray
	case a.State == models.ActualLRPStateRunning:
		return colorGreen
	case a.State == models.ActualLRPStateCrashed:
		return colorRed
	}
	return colorYellow
}
