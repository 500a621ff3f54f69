package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/diego-runtime/diego/models"
)

func newTaskCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Run one-off tasks"}
	cmd.AddCommand(newTaskRunCommand(g), newTaskListCommand(g), newTaskGetCommand(g), newTaskDeleteCommand(g))
	return cmd
}

func newTaskRunCommand(g *Globals) *cobra.Command {
	var memoryMB, diskMB int
	var resultFile string
	var env []string
	var wait bool
	cmd := &cobra.Command{
		Use:   "run GUID IMAGE -- COMMAND [ARGS...]",
		Short: "Run a command once in a container of an image",
		Args:  cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			task := map[string]any{}
			def := models.TaskDefinition{
				RootFS: rootFSURI(args[1]), MemoryMB: memoryMB, DiskMB: diskMB, ResultFile: resultFile,
				LogGuid: args[0], Action: &models.Action{Run: &models.RunAction{Path: args[2], Args: args[3:]}},
			}
			for _, kv := range env {
				name, value, ok := strings.Cut(kv, "=")
				if !ok || name == "" {
					return fmt.Errorf("--env %q is not NAME=value", kv)
				}
				def.Env = append(def.Env, models.EnvVar{Name: name, Value: value})
			}
			if err := remarshal(def, &task); err != nil {
				return err
			}
			task["task_guid"], task["domain"] = args[0], DefaultDomain
			api := g.api()
			if err := api.do(cmd.Context(), http.MethodPost, "/v1/tasks", task, nil); err != nil {
				return err
			}
			if !wait {
				fmt.Fprintf(g.Out, "submitted task %s\n", args[0])
				return nil
			}
			for {
				var t models.Task
				if err := api.do(cmd.Context(), http.MethodGet, "/v1/tasks/"+url.PathEscape(args[0]), nil, &t); err != nil {
					return err
				}
				if t.State == models.TaskStateCompleted || t.State == models.TaskStateResolving {
					printTask(g, &t)
					if t.Failed {
						return fmt.Errorf("task %s failed: %s", t.TaskGuid, t.FailureReason)
					}
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(250 * time.Millisecond):
				}
			}
		},
	}
	f := cmd.Flags()
	f.IntVarP(&memoryMB, "memory", "m", 128, "memory limit, MB")
	f.IntVarP(&diskMB, "disk", "d", 256, "disk limit, MB")
	f.StringVar(&resultFile, "result-file", "", "file whose first 10 KB become the task's result")
	f.StringArrayVarP(&env, "env", "e", nil, "environment variable NAME=value (repeatable)")
	f.BoolVar(&wait, "wait", true, "wait for the task to complete and print its result")
	return cmd
}

func printTask(g *Globals, t *models.Task) {
	fmt.Fprintf(g.Out, "task %s: %s", t.TaskGuid, t.State)
	if t.CellID != "" {
		fmt.Fprintf(g.Out, " on %s", t.CellID)
	}
	if t.Failed {
		fmt.Fprintf(g.Out, ", failed: %s", t.FailureReason)
	}
	fmt.Fprintln(g.Out)
	if t.Result != "" {
		fmt.Fprintf(g.Out, "result:\n%s\n", t.Result)
	}
}

func newTaskListCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var tasks []*models.Task
			if err := g.api().do(cmd.Context(), http.MethodGet, "/v1/tasks", nil, &tasks); err != nil {
				return err
			}
			sort.Slice(tasks, func(i, j int) bool { return tasks[i].CreatedAt < tasks[j].CreatedAt })
			w := tabwriter.NewWriter(g.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TASK\tSTATE\tCELL\tFAILED\tREASON")
			for _, t := range tasks {
				fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\n", t.TaskGuid, t.State, dash(t.CellID), t.Failed, t.FailureReason)
			}
			return w.Flush()
		},
	}
}

func newTaskGetCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get GUID",
		Short: "Show a task and its result",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t models.Task
			if err := g.api().do(cmd.Context(), http.MethodGet, "/v1/tasks/"+url.PathEscape(args[0]), nil, &t); err != nil {
				return err
			}
			printTask(g, &t)
			return nil
		},
	}
}

func newTaskDeleteCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GUID",
		Short: "Delete a completed task, or cancel a running one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api := g.api()
			path := "/v1/tasks/" + url.PathEscape(args[0])
			var t models.Task
			if err := api.do(cmd.Context(), http.MethodGet, path, nil, &t); err != nil {
				return err
			}
			if t.State == models.TaskStatePending || t.State == models.TaskStateRunning {
				if err := api.do(cmd.Context(), http.MethodPost, path+"/cancel", nil, nil); err != nil {
					return err
				}
			}
			if err := api.do(cmd.Context(), http.MethodDelete, path, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "deleted task %s\n", args[0])
			return nil
		},
	}
}
