package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diego-runtime/diego/models"
)

// deployOptions are the flags of deploy: each one given changes that part of
// the app's definition; what is not given stays as it is.
type deployOptions struct {
	command        string
	env            []string
	memoryMB       int
	diskMB         int
	ports          []uint
	healthCheck    string
	healthPath     string
	startTimeout   time.Duration
	imageUser      string
	imagePass      string
	maxSurge       int
	maxUnavailable int
}

func (o *deployOptions) bind(f *pflag.FlagSet) {
	f.StringVar(&o.command, "command", "", "command to run (default: the new image's entrypoint and cmd)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "environment variable NAME=value (repeatable; replaces the app's environment)")
	f.IntVarP(&o.memoryMB, "memory", "m", 0, "memory limit per instance, MB (default: unchanged)")
	f.IntVarP(&o.diskMB, "disk", "d", 0, "disk limit per instance, MB (default: unchanged)")
	f.UintSliceVarP(&o.ports, "ports", "p", nil, "container ports (default: unchanged)")
	f.StringVar(&o.healthCheck, "health-check", "", "health check: tcp, http or none (default: unchanged)")
	f.StringVar(&o.healthPath, "health-endpoint", "/", "path of the http health check")
	f.DurationVar(&o.startTimeout, "start-timeout", 0, "how long a new instance may take to become healthy (default: unchanged)")
	f.StringVar(&o.imageUser, "image-username", "", "registry user")
	f.StringVar(&o.imagePass, "image-password", "", "registry password")
	f.IntVar(&o.maxSurge, "max-surge", models.DefaultMaxSurge, "new instances started beside old ones at once (kept with the app)")
	f.IntVar(&o.maxUnavailable, "max-unavailable", models.DefaultMaxUnavailable, "old instances stopped before their replacement runs, at once (kept with the app)")
}

func newDeployCommand(g *Globals) *cobra.Command {
	o := deployOptions{}
	var wait waitOptions
	cmd := &cobra.Command{
		Use:   "deploy APP IMAGE",
		Short: "Roll an app to a new image (or command, env, limits, health check) without downtime",
		Long: `Roll an app to a new image: its instances are replaced one at a time (--max-surge,
--max-unavailable), each new one running and routed before the old one leaves the
routes and stops. A bar shows the roll; a new version that keeps crashing halts the
roll (the old instances keep serving), and deploy exits 1 with the crash reason.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			api := g.api()
			ctx := cmd.Context()
			current, err := api.desiredLRP(ctx, args[0])
			if err != nil {
				return err
			}
			update, err := o.update(cmd.Flags(), current, args[1])
			if err != nil {
				return err
			}
			if err := api.do(ctx, http.MethodPut, "/v1/desired_lrps/"+url.PathEscape(args[0]), update, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "deploying %s to %s\n", args[0], *update.RootFS)
			if wait.noWait {
				return nil
			}
			return waitRolled(ctx, g, api, args[0], wait)
		},
	}
	o.bind(cmd.Flags())
	wait.bind(cmd.Flags(), DefaultWaitTimeout, true)
	_ = cmd.Flags().MarkHidden("max-crashes") // a roll halts on its own (models.RollHaltCrashes)
	return cmd
}

// update builds the PUT body: the new image, its command (from --command or
// the image's config) and whatever else the flags name.
func (o deployOptions) update(flags *pflag.FlagSet, current *models.DesiredLRP, image string) (*models.DesiredLRPUpdate, error) {
	uri := rootFSURI(image)
	u := &models.DesiredLRPUpdate{RootFS: &uri}
	if flags.Changed("max-surge") || flags.Changed("max-unavailable") {
		u.RollPolicy = &models.RollPolicy{MaxSurge: o.maxSurge, MaxUnavailable: o.maxUnavailable}
	}
	if flags.Changed("image-username") || flags.Changed("image-password") {
		u.ImageUsername, u.ImagePassword = &o.imageUser, &o.imagePass
	}
	argv := strings.Fields(o.command)
	if len(argv) == 0 {
		cfg, err := imageConfig(uri, o.imageUser, o.imagePass)
		if err != nil {
			return nil, err
		}
		argv = append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
		if len(argv) == 0 {
			return nil, fmt.Errorf("image %s has no entrypoint or cmd: give --command", image)
		}
	}
	u.Action = &models.Action{Run: &models.RunAction{Path: argv[0], Args: argv[1:]}}
	if flags.Changed("env") {
		env := []models.EnvVar{}
		for _, kv := range o.env {
			name, value, ok := strings.Cut(kv, "=")
			if !ok || name == "" {
				return nil, fmt.Errorf("--env %q is not NAME=value", kv)
			}
			env = append(env, models.EnvVar{Name: name, Value: value})
		}
		u.Env = &env
	}
	if flags.Changed("memory") {
		u.MemoryMB = &o.memoryMB
	}
	if flags.Changed("disk") {
		u.DiskMB = &o.diskMB
	}
	if flags.Changed("start-timeout") {
		secs := uint((o.startTimeout + time.Second - 1) / time.Second)
		u.StartTimeout = &secs
	}
	ports := current.Ports
	if flags.Changed("ports") {
		ports = nil
		for _, p := range o.ports {
			ports = append(ports, uint32(p))
		}
		u.Ports = &ports
	}
	if flags.Changed("health-check") {
		if len(ports) == 0 && o.healthCheck != "none" && o.healthCheck != "process" {
			return nil, fmt.Errorf("--health-check %s needs a port: give --ports", o.healthCheck)
		}
		check := &models.CheckDefinition{}
		switch o.healthCheck {
		case "tcp":
			check.Checks = []models.Check{{TCPCheck: &models.TCPCheck{Port: ports[0]}}}
		case "http":
			check.Checks = []models.Check{{HTTPCheck: &models.HTTPCheck{Port: ports[0], Path: o.healthPath}}}
		case "none", "process":
		default:
			return nil, fmt.Errorf("--health-check must be tcp, http or none, not %q", o.healthCheck)
		}
		u.CheckDefinition = check
	}
	return u, nil
}

// RollHaltedError says a deploy stopped because the roll halted.
type RollHaltedError struct {
	App    string
	Reason string
}

func (e *RollHaltedError) Error() string {
	return fmt.Sprintf("%s: the roll halted, the old instances keep serving: %s", e.App, e.Reason)
}

// waitRolled draws the roll's progress until every instance runs the new
// version, printing each failing instance's crash reason or placement error
// as it changes, and gives up when the roll halts, a new instance cannot be
// placed (as create's wait does), or the wait times out.
func waitRolled(ctx context.Context, g *Globals, api *API, app string, o waitOptions) error {
	clk := g.clock()
	started := clk.Now()
	deadline := started.Add(o.timeout)
	barWidth := 0
	var w *watch
	for {
		d, err := api.desiredLRP(ctx, app)
		if err != nil {
			return err
		}
		roll := models.RollStatus{State: models.RollStateDone, Updated: d.Instances, Total: d.Instances}
		if d.Roll != nil {
			roll = *d.Roll
		}
		if w == nil || w.n != d.Instances {
			w = newWatch(app, d.Instances, 0) // a roll halts on crashes by itself
		}
		lrps, err := api.actualLRPs(ctx, app)
		if err != nil {
			return err
		}
		v := w.observe(lrps, clk.Now())
		for _, note := range v.notes {
			fmt.Fprintf(g.Out, "\r%-*s\n", barWidth, note)
		}
		if v.giveUp != nil {
			fmt.Fprintln(g.Out)
			return v.giveUp
		}
		line := fmt.Sprintf("%s %d/%d updated", bar(roll.Updated, roll.Total, 30), roll.Updated, roll.Total)
		fmt.Fprintf(g.Out, "\r%-*s", barWidth, line)
		barWidth = max(barWidth, len(line))
		switch {
		case roll.State == models.RollStateDone && roll.Updated >= roll.Total:
			fmt.Fprintf(g.Out, "\n%s: %d instance(s) of the new version running (%.1fs)\n", app, roll.Total, clk.Since(started).Seconds())
			return nil
		case roll.State == models.RollStateHalted:
			fmt.Fprintln(g.Out)
			return &RollHaltedError{App: app, Reason: roll.Reason}
		case clk.Now().After(deadline):
			fmt.Fprintln(g.Out)
			return fmt.Errorf("timed out after %s with %d of %d instances updated (roll %s)", o.timeout, roll.Updated, roll.Total, roll.State)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(g.Out)
			return ctx.Err()
		case <-clk.After(waitPoll):
		}
	}
}
