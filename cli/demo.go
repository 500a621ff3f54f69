package cli

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/spf13/cobra"
)

func newDemoCommand(g *Globals) *cobra.Command {
	var registry, app string
	var instances int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build the test app into an image, push it to the local registry and run it",
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
			create := newCreateCommand(g)
			create.SetContext(cmd.Context())
			if err := create.ParseFlags([]string{"--instances", fmt.Sprint(instances), "--health-check", "http", "--health-endpoint", "/health"}); err != nil {
				return err
			}
			if err := create.RunE(create, []string{app, ref}); err != nil {
				return err
			}
			if err := waitRunning(cmd.Context(), g, g.api(), app, instances, 3*time.Minute); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "try: curl http://%s.localhost:8080/   diego status %s   diego scale %s 50   diego logs %s\n", app, app, app, app)
			return nil
		},
	}
	cmd.Flags().StringVar(&registry, "registry", "127.0.0.1:5000", "registry to push the demo image to")
	cmd.Flags().StringVar(&app, "app", "demo", "name of the demo app")
	cmd.Flags().IntVarP(&instances, "instances", "i", 3, "number of instances")
	return cmd
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
