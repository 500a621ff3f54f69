package cli

import (
	"context"

	"github.com/spf13/pflag"
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
