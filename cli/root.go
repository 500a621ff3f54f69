// Package cli is the diego command: `diego up` runs a whole cluster on this
// machine, and the other commands drive a cluster through the receptor API only.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"code.cloudfoundry.org/clock"
	"github.com/spf13/cobra"
)

// Globals are the flags every API command shares.
type Globals struct {
	Target   string
	Username string
	Password string
	// CACert is a PEM file of the CA the receptor's HTTPS certificate is
	// checked against (besides the system's); empty: the system's only.
	CACert string
	Out    io.Writer
	// Clock times waits; nil is the real clock.
	Clock clock.Clock
}

func (g *Globals) clock() clock.Clock {
	if g.Clock == nil {
		return clock.NewClock()
	}
	return g.Clock
}

// NewRoot builds the command tree.
func NewRoot() *cobra.Command { return newRoot(&Globals{Out: os.Stdout}) }

func newRoot(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "diego",
		Short:         "Diego: keep Docker images running, balanced, routed and logged",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.Target, "target", envOr("DIEGO_TARGET", "http://127.0.0.1:8887"), "receptor URL (env DIEGO_TARGET)")
	root.PersistentFlags().StringVar(&g.Username, "username", os.Getenv("DIEGO_USERNAME"), "basic auth user (env DIEGO_USERNAME)")
	root.PersistentFlags().StringVar(&g.Password, "password", os.Getenv("DIEGO_PASSWORD"), "basic auth password (env DIEGO_PASSWORD)")
	root.PersistentFlags().StringVar(&g.CACert, "ca-cert", os.Getenv("DIEGO_CA_CERT"), "trust this CA (PEM) for an https receptor, as `diego up --tls` prints (env DIEGO_CA_CERT)")
	root.AddCommand(
		newUpCommand(g),
		newCreateCommand(g), newScaleCommand(g), newUpdateCommand(g), newDeleteCommand(g),
		newListCommand(g), newStatusCommand(g), newRestartCommand(g), newCellsCommand(g),
		newLogsCommand(g), newEventsCommand(g), newSSHCommand(g), newTaskCommand(g), newVisualizeCommand(g), newDemoCommand(g),
		newCertsCommand(), newReleaseCommand(), newRenderCommand(), newInstallCommand(),
		newDeployCommand(g),
	)
	return root
}

// Main runs the command line and returns the process exit code; errors are one line.
func Main(args []string) int {
	root := NewRoot()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var code ExitCode
		if errors.As(err, &code) { // diego ssh: the remote command's own status
			return int(code)
		}
		fmt.Fprintf(os.Stderr, "diego: %v\n", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
