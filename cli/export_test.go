package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diego-runtime/diego/models"
)

// Exported for tests only.
var (
	RootFSURI = rootFSURI
)

// DesiredLRPFor builds what `create APP IMAGE args...` would submit.
func DesiredLRPFor(app, image string, args ...string) (any, error) {
	var o createOptions
	flags := pflag.NewFlagSet("create", pflag.ContinueOnError)
	o.bind(flags)
	if err := flags.Parse(args); err != nil {
		return nil, err
	}
	return o.desiredLRP(app, image)
}

// LogGuidOf is what `logs APP` streams for APP, asking the receptor at target.
func LogGuidOf(target, app string) (string, error) {
	g := &Globals{Target: target}
	return g.api().logGuidOf(context.Background(), app)
}

// DeployUpdateFor builds what `deploy APP IMAGE args...` would PUT for an app
// whose desired LRP is current.
func DeployUpdateFor(current *models.DesiredLRP, image string, args ...string) (*models.DesiredLRPUpdate, error) {
	var o deployOptions
	flags := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
	o.bind(flags)
	if err := flags.Parse(args); err != nil {
		return nil, err
	}
	return o.update(flags, current, image)
}

// NewRootTo is NewRoot printing to out.
func NewRootTo(out io.Writer) *cobra.Command { return newRoot(&Globals{Out: out}) }
