package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diego-runtime/diego/models"
)

func newDemoCommand(g *Globals) *cobra.Command {
	var registry, app string
	var instances int
	var wait waitOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build the test app into an image, push it to the local registry and run it (again: make sure it runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			binary, err := testAppBinary()
			if err != nil {
				return err
			}
			ref := registry + "/diego-demo:latest"
			if err := PushTestApp(binary, ref); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "pushed %s\n", ref)
			// create's own flags, so the demo takes create's defaults.
			var o createOptions
			flags := pflag.NewFlagSet("create", pflag.ContinueOnError)
			o.bind(flags)
			if err := flags.Parse([]string{"--instances", fmt.Sprint(instances), "--health-check", "http", "--health-endpoint", "/health"}); err != nil {
				return err
			}
			lrp, err := o.desiredLRP(app, ref)
			if err != nil {
				return err
			}
			n, err := ensureDemo(cmd.Context(), g, g.api(), lrp)
			if err != nil {
				return err
			}
			if err := waitRunning(cmd.Context(), g, g.api(), app, n, wait); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "try: curl http://%s.localhost:8080/   diego status %s   diego scale %s 50   diego logs %s\n", app, app, app, app)
			return nil
		},
	}
	cmd.Flags().StringVar(&registry, "registry", "127.0.0.1:5000", "registry to push the demo image to")
	cmd.Flags().StringVar(&app, "app", "demo", "name of the demo app")
	cmd.Flags().IntVarP(&instances, "instances", "i", 3, "number of instances (at least; an existing demo with more keeps them)")
	wait.bind(cmd.Flags(), DefaultDemoWaitTimeout, false)
	return cmd
}

// ensureDemo creates the demo app, or, when it exists, says so and makes
// sure it runs the demo image with at least the instances asked for: a
// second `diego demo` (after a restart of `diego up`, say) is not an error.
// It returns how many instances to wait for.
func ensureDemo(ctx context.Context, g *Globals, api *API, lrp *models.DesiredLRP) (int, error) {
	err := createApp(ctx, api, lrp)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Name != models.ErrDesiredLRPAlreadyExists.Name {
		if err == nil {
			fmt.Fprintf(g.Out, "created %s: %d instance(s) of %s\n", lrp.ProcessGuid, lrp.Instances, lrp.RootFS)
		}
		return lrp.Instances, err
	}
	existing, err := api.desiredLRP(ctx, lrp.ProcessGuid)
	if err != nil {
		return 0, err
	}
	if existing.RootFS != lrp.RootFS {
		// The image of an app cannot change in place: replace the app.
		fmt.Fprintf(g.Out, "%s exists but runs %s: replacing it\n", lrp.ProcessGuid, existing.RootFS)
		if err := api.do(ctx, http.MethodDelete, "/v1/desired_lrps/"+url.PathEscape(lrp.ProcessGuid), nil, nil); err != nil {
			return 0, err
		}
		if err := createApp(ctx, api, lrp); err != nil {
			return 0, err
		}
		fmt.Fprintf(g.Out, "created %s: %d instance(s) of %s\n", lrp.ProcessGuid, lrp.Instances, lrp.RootFS)
		return lrp.Instances, nil
	}
	fmt.Fprintf(g.Out, "%s already exists, running %s\n", lrp.ProcessGuid, existing.RootFS)
	n := existing.Instances
	if n < lrp.Instances {
		n = lrp.Instances
		if err := api.do(ctx, http.MethodPut, "/v1/desired_lrps/"+url.PathEscape(lrp.ProcessGuid), models.DesiredLRPUpdate{Instances: &n}, nil); err != nil {
			return 0, err
		}
		fmt.Fprintf(g.Out, "scaled %s from %d to %d instance(s)\n", lrp.ProcessGuid, existing.Instances, n)
	}
	return n, restartCrashed(ctx, g, api, lrp.ProcessGuid, n)
}

// restartCrashed restarts at once the instances of app that wait out a
// crash backoff (up to 16 min): demo is asked to make the app run now, and
// what made it crash (a state dir its containers could not reach, say) may
// be fixed since.
func restartCrashed(ctx context.Context, g *Globals, api *API, app string, n int) error {
	lrps, err := api.actualLRPs(ctx, app)
	if err != nil {
		return err
	}
	for _, a := range ordinary(lrps) {
		if a.Index >= n || a.State != models.ActualLRPStateCrashed {
			continue
		}
		path := "/v1/actual_lrps/" + url.PathEscape(app) + "/index/" + strconv.Itoa(a.Index)
		if err := api.do(ctx, http.MethodDelete, path, nil, nil); err != nil {
			return fmt.Errorf("restarting %s/%d: %w", app, a.Index, err)
		}
		fmt.Fprintf(g.Out, "restarting %s/%d, which crashed %d time(s): %s\n", app, a.Index, a.CrashCount, a.CrashReason)
	}
	return nil
}

// createApp keeps the CLI's domain fresh and submits lrp.
func createApp(ctx context.Context, api *API, lrp *models.DesiredLRP) error {
	if err := api.do(ctx, http.MethodPut, "/v1/domains/"+DefaultDomain, nil, nil); err != nil {
		return err
	}
	return api.do(ctx, http.MethodPost, "/v1/desired_lrps", lrp, nil)
}

// testAppBinary finds the static test app that `make build` puts beside diego.
func testAppBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(exe), "httpapp")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the test app binary %s is missing: run 'make build'", path)
	}
	return path, nil
}

// PushTestApp builds a one-layer image holding the test app and pushes it.
func PushTestApp(binary, ref string) error {
	data, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, dir := range []string{"app/", "tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: now}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "app/httpapp", Mode: 0o755, Size: int64(len(data)), ModTime: now}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	img, err = mutate.Config(img, v1.Config{
		Entrypoint:   []string{"/app/httpapp"},
		Env:          []string{"PORT=8080"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	})
	if err != nil {
		return err
	}
	parsed, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(parsed, img); err != nil {
		return fmt.Errorf("pushing %s (is diego up running?): %v", ref, firstLine(err.Error()))
	}
	return nil
}
