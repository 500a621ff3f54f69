package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diego-runtime/diego/models"
)

// DefaultDomain is the domain the CLI's apps live in; create keeps it fresh.
const DefaultDomain = "diego"

type createOptions struct {
	instances    int
	ports        []uint
	routes       []string
	memoryMB     int
	diskMB       int
	env          []string
	healthCheck  string
	healthPath   string
	startTimeout time.Duration
	command      string
	privileged   bool
	noRoutes     bool
	noSSH        bool
	imageUser    string
	imagePass    string
}

func newCreateCommand(g *Globals) *cobra.Command {
	o := createOptions{}
	var wait waitOptions
	cmd := &cobra.Command{
		Use:   "create APP IMAGE",
		Short: "Run an image as an app: instances, routed at APP.localhost by default",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			lrp, err := o.desiredLRP(args[0], args[1])
			if err != nil {
				return err
			}
			api := g.api()
			ctx := cmd.Context()
			if err := api.do(ctx, http.MethodPut, "/v1/domains/"+DefaultDomain, nil, nil); err != nil {
				return err
			}
			if err := api.do(ctx, http.MethodPost, "/v1/desired_lrps", lrp, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "created %s: %d instance(s) of %s", lrp.ProcessGuid, lrp.Instances, lrp.RootFS)
			if hosts := routeHosts(lrp.Routes); len(hosts) > 0 {
				fmt.Fprintf(g.Out, ", routed at %s", strings.Join(hosts, ", "))
			}
			fmt.Fprintln(g.Out)
			if wait.noWait {
				return nil
			}
			return waitRunning(ctx, g, api, lrp.ProcessGuid, lrp.Instances, wait)
		},
	}
	o.bind(cmd.Flags())
	wait.bind(cmd.Flags(), DefaultWaitTimeout, true)
	return cmd
}

func (o *createOptions) bind(f *pflag.FlagSet) {
	f.IntVarP(&o.instances, "instances", "i", 1, "number of instances")
	f.UintSliceVarP(&o.ports, "ports", "p", nil, "container ports (default: the image's exposed ports, else 8080)")
	f.StringSliceVarP(&o.routes, "route", "r", nil, "hostnames routed to the first port (default APP.localhost)")
	f.BoolVar(&o.noRoutes, "no-routes", false, "do not route the app")
	f.BoolVar(&o.noSSH, "no-ssh", false, "keep diego ssh out of the app's instances (ssh_disabled)")
	f.IntVarP(&o.memoryMB, "memory", "m", 128, "memory limit per instance, MB")
	f.IntVarP(&o.diskMB, "disk", "d", 256, "disk limit per instance, MB")
	f.StringArrayVarP(&o.env, "env", "e", nil, "environment variable NAME=value (repeatable)")
	f.StringVar(&o.healthCheck, "health-check", "tcp", "health check: tcp, http or none (process)")
	f.StringVar(&o.healthPath, "health-endpoint", "/", "path of the http health check")
	f.DurationVar(&o.startTimeout, "start-timeout", 60*time.Second, "how long an instance may take to become healthy")
	f.StringVar(&o.command, "command", "", "command to run (default: the image's entrypoint and cmd)")
	f.BoolVar(&o.privileged, "privileged", false, "run without a user namespace")
	f.StringVar(&o.imageUser, "image-username", "", "registry user")
	f.StringVar(&o.imagePass, "image-password", "", "registry password")
}

// logGuidOf maps an app's name (its process guid) to the log guid its
// instances log under: the app id create gave it. A name that is no app is
// taken as a log guid itself (a task's, or one an API client chose).
func (a *API) logGuidOf(ctx context.Context, name string) (string, error) {
	d, err := a.desiredLRP(ctx, name)
	var apiErr *APIError
	switch {
	case err == nil && d.LogGuid != "":
		return d.LogGuid, nil
	case err == nil, errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		return name, nil
	}
	return "", fmt.Errorf("finding the log guid of %s: %w", name, err)
}

func (o createOptions) desiredLRP(app, image string) (*models.DesiredLRP, error) {
	uri := rootFSURI(image)
	lrp := &models.DesiredLRP{
		ProcessGuid: app, Domain: DefaultDomain, Instances: o.instances, RootFS: uri,
		ImageUsername: o.imageUser, ImagePassword: o.imagePass,
		MemoryMB: o.memoryMB, DiskMB: o.diskMB, Privileged: o.privileged,
		StartTimeout: uint((o.startTimeout + time.Second - 1) / time.Second),
	}
	// Each app gets its own id, as a Cloud Foundry app has its guid: logs,
	// metrics and gorouter's X-CF-App-Instance header name the app by it.
	// The CLI maps the app's name to it (logGuidOf).
	appID := uuid.NewString()
	lrp.LogGuid, lrp.MetricsGuid = appID, appID
	for _, kv := range o.env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--env %q is not NAME=value", kv)
		}
		lrp.Env = append(lrp.Env, models.EnvVar{Name: name, Value: value})
	}
	var path string
	var args []string
	if o.command != "" {
		fields := strings.Fields(o.command)
		path, args = fields[0], fields[1:]
	}
	if path == "" || len(o.ports) == 0 {
		cfg, err := imageConfig(uri, o.imageUser, o.imagePass)
		if err != nil && path == "" {
			return nil, err
		}
		if cfg != nil {
			if path == "" {
				argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
				if len(argv) == 0 {
					return nil, fmt.Errorf("image %s has no entrypoint or cmd: give --command", image)
				}
				path, args = argv[0], argv[1:]
			}
			if len(o.ports) == 0 {
				lrp.Ports = exposedPorts(cfg)
			}
		}
	}
	for _, p := range o.ports {
		lrp.Ports = append(lrp.Ports, uint32(p))
	}
	if len(lrp.Ports) == 0 {
		lrp.Ports = []uint32{8080}
	}
	lrp.Action = &models.Action{Run: &models.RunAction{Path: path, Args: args}}
	lrp.SSHDisabled = o.noSSH

	switch o.healthCheck {
	case "tcp":
		lrp.CheckDefinition = &models.CheckDefinition{Checks: []models.Check{{TCPCheck: &models.TCPCheck{Port: lrp.Ports[0]}}}}
	case "http":
		lrp.CheckDefinition = &models.CheckDefinition{Checks: []models.Check{{HTTPCheck: &models.HTTPCheck{Port: lrp.Ports[0], Path: o.healthPath}}}}
	case "none", "process":
	default:
		return nil, fmt.Errorf("--health-check must be tcp, http or none, not %q", o.healthCheck)
	}
	if !o.noRoutes {
		hosts := o.routes
		if len(hosts) == 0 {
			hosts = []string{app + ".localhost"}
		}
		routes, err := cfRoutes(hosts, lrp.Ports[0])
		if err != nil {
			return nil, err
		}
		lrp.Routes = routes
	}
	return lrp, nil
}

func cfRoutes(hosts []string, port uint32) (models.Routes, error) {
	raw, err := json.Marshal([]models.CFRoute{{Hostnames: hosts, Port: port}})
	if err != nil {
		return nil, err
	}
	return models.Routes{models.CFRouterKey: raw}, nil
}

func routeHosts(routes models.Routes) []string {
	var cf []models.CFRoute
	_ = json.Unmarshal(routes[models.CFRouterKey], &cf)
	var hosts []string
	for _, r := range cf {
		hosts = append(hosts, r.Hostnames...)
	}
	return hosts
}

func newScaleCommand(g *Globals) *cobra.Command {
	var wait waitOptions
	cmd := &cobra.Command{
		Use:   "scale APP N",
		Short: "Change the number of instances and wait until they all run",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				return fmt.Errorf("N must be a whole number >= 0, not %q", args[1])
			}
			api := g.api()
			if err := api.do(cmd.Context(), http.MethodPut, "/v1/desired_lrps/"+url.PathEscape(args[0]), models.DesiredLRPUpdate{Instances: &n}, nil); err != nil {
				return err
			}
			if wait.noWait {
				fmt.Fprintf(g.Out, "scaling %s to %d\n", args[0], n)
				return nil
			}
			return waitRunning(cmd.Context(), g, api, args[0], n, wait)
		},
	}
	wait.bind(cmd.Flags(), DefaultWaitTimeout, true)
	return cmd
}

func ordinary(lrps []*models.ActualLRP) []*models.ActualLRP {
	var out []*models.ActualLRP
	for _, a := range lrps {
		if a.Presence == "" || a.Presence == models.PresenceOrdinary {
			out = append(out, a)
		}
	}
	return out
}

func newUpdateCommand(g *Globals) *cobra.Command {
	var instances int
	var routes []string
	var annotation string
	var wait waitOptions
	cmd := &cobra.Command{
		Use:   "update APP",
		Short: "Change an app's instances, routes or annotation (a change of instances waits for them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api := g.api()
			update := models.DesiredLRPUpdate{}
			flags := cmd.Flags()
			if flags.Changed("instances") {
				update.Instances = &instances
			}
			if flags.Changed("annotation") {
				update.Annotation = &annotation
			}
			if flags.Changed("route") {
				current, err := api.desiredLRP(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				port := uint32(8080)
				if len(current.Ports) > 0 {
					port = current.Ports[0]
				}
				r, err := cfRoutes(routes, port)
				if err != nil {
					return err
				}
				update.Routes = &r
			}
			if update.Instances == nil && update.Annotation == nil && update.Routes == nil {
				return fmt.Errorf("nothing to update: give --instances, --route or --annotation")
			}
			if err := api.do(cmd.Context(), http.MethodPut, "/v1/desired_lrps/"+url.PathEscape(args[0]), update, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "updated %s\n", args[0])
			if update.Instances == nil || wait.noWait {
				return nil
			}
			return waitRunning(cmd.Context(), g, api, args[0], instances, wait)
		},
	}
	wait.bind(cmd.Flags(), DefaultWaitTimeout, true)
	cmd.Flags().IntVarP(&instances, "instances", "i", 0, "number of instances")
	cmd.Flags().StringSliceVarP(&routes, "route", "r", nil, "hostnames (replaces the current ones)")
	cmd.Flags().StringVar(&annotation, "annotation", "", "free text kept with the app")
	return cmd
}

func newDeleteCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete APP",
		Short: "Stop every instance of an app and forget it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.api().do(cmd.Context(), http.MethodDelete, "/v1/desired_lrps/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "deleted %s\n", args[0])
			return nil
		},
	}
}

func newRestartCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restart APP INDEX",
		Short: "Stop one instance; a replacement starts at once",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.Atoi(args[1]); err != nil {
				return fmt.Errorf("INDEX must be a whole number, not %q", args[1])
			}
			path := "/v1/actual_lrps/" + url.PathEscape(args[0]) + "/index/" + args[1]
			if err := g.api().do(cmd.Context(), http.MethodDelete, path, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "restarting %s/%s\n", args[0], args[1])
			return nil
		},
	}
}

func newListCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List apps with their instances and routes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api := g.api()
			var desired []*models.DesiredLRP
			if err := api.do(cmd.Context(), http.MethodGet, "/v1/desired_lrps", nil, &desired); err != nil {
				return err
			}
			actual, err := api.actualLRPs(cmd.Context(), "")
			if err != nil {
				return err
			}
			running := map[string]int{}
			for _, a := range ordinary(actual) {
				if a.State == models.ActualLRPStateRunning {
					running[a.ProcessGuid]++
				}
			}
			sort.Slice(desired, func(i, j int) bool { return desired[i].ProcessGuid < desired[j].ProcessGuid })
			w := tabwriter.NewWriter(g.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "APP\tRUNNING\tIMAGE\tROUTES")
			for _, d := range desired {
				fmt.Fprintf(w, "%s\t%d/%d\t%s\t%s\n", d.ProcessGuid, running[d.ProcessGuid], d.Instances, d.RootFS, strings.Join(routeHosts(d.Routes), ","))
			}
			return w.Flush()
		},
	}
}

func newStatusCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status APP",
		Short: "Show each instance: cell, zone, state, address, CPU, memory, disk, crashes, uptime",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api := g.api()
			d, err := api.desiredLRP(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			actual, err := api.actualLRPs(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cells, err := api.cells(cmd.Context())
			if err != nil {
				return err
			}
			usage, err := api.instanceMetrics(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			zones := map[string]string{}
			for _, c := range cells {
				zones[c.CellID] = c.Zone
			}
			sort.Slice(actual, func(i, j int) bool {
				if actual[i].Index != actual[j].Index {
					return actual[i].Index < actual[j].Index
				}
				return actual[i].Presence < actual[j].Presence
			})
			fmt.Fprintf(g.Out, "%s: %d instance(s) of %s, routes %s\n", d.ProcessGuid, d.Instances, d.RootFS, strings.Join(routeHosts(d.Routes), ","))
			w := tabwriter.NewWriter(g.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "INDEX\tSTATE\tCELL\tZONE\tADDRESS\tCPU\tMEM\tDISK\tCRASHES\tUPTIME\tNOTE")
			now := time.Now()
			for _, a := range actual {
				state := a.State
				if a.Presence != "" && a.Presence != models.PresenceOrdinary {
					state += " (" + strings.ToLower(a.Presence) + ")"
				}
				address := "-"
				if len(a.Ports) > 0 {
					address = fmt.Sprintf("%s:%d", a.Address, a.Ports[0].HostPort)
				}
				uptime := "-"
				if a.State == models.ActualLRPStateRunning {
					uptime = now.Sub(time.Unix(0, a.Since)).Truncate(time.Second).String()
				}
				note := a.CrashReason
				if a.PlacementError != "" {
					note = a.PlacementError
				}
				cpu, mem, disk := usageColumns(usage, a.InstanceGuid)
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.Index, state, dash(a.CellID), dash(zones[a.CellID]), address,
					cpu, mem, disk, a.CrashCount, uptime, note)
			}
			return w.Flush()
		},
	}
}

// usageColumns are the CPU, MEM and DISK of an instance: CPU in percent of one
// core, memory and disk as used of the limit; "-" without a sample.
func usageColumns(usage map[string]models.InstanceMetrics, instanceGuid string) (cpu, mem, disk string) {
	m, ok := usage[instanceGuid]
	if !ok || instanceGuid == "" {
		return "-", "-", "-"
	}
	return fmt.Sprintf("%.1f%%", m.CPUPercent), ofLimit(m.MemoryBytes, m.MemoryLimitBytes), ofLimit(m.DiskBytes, m.DiskLimitBytes)
}

func ofLimit(used, limit uint64) string {
	if limit == 0 {
		return mib(used)
	}
	return mib(used) + " of " + mib(limit)
}

func mib(b uint64) string {
	return fmt.Sprintf("%.1fM", float64(b)/(1<<20))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newCellsCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cells",
		Short: "List the present cells",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cells, err := g.api().cells(cmd.Context())
			if err != nil {
				return err
			}
			sort.Slice(cells, func(i, j int) bool { return cells[i].CellID < cells[j].CellID })
			w := tabwriter.NewWriter(g.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CELL\tZONE\tMEMORY\tDISK\tCONTAINERS\tADDRESS")
			for _, c := range cells {
				fmt.Fprintf(w, "%s\t%s\t%d MB\t%d MB\t%d\t%s\n", c.CellID, c.Zone, c.Capacity.MemoryMB, c.Capacity.DiskMB, c.Capacity.Containers, c.RepAddress)
			}
			return w.Flush()
		},
	}
}
