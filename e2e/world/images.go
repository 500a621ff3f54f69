package world

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/diego-runtime/diego/garden/imagetest"
)

// PushBusybox pushes a busybox image (sh, sleep, cat, ...; users root, vcap,
// nobody) as REGISTRY/busybox:latest and returns the reference for `diego
// create`/`task run`.
func (w *World) PushBusybox() (string, error) {
	img, err := imagetest.BusyboxImage()
	if err != nil {
		return "", err
	}
	return w.push("busybox", img)
}

// PushTestApp pushes busybox plus the test app (entrypoint /app/httpapp,
// PORT=8080, exposed 8080/tcp) as REGISTRY/httpapp:latest and returns its
// reference.
func (w *World) PushTestApp() (string, error) {
	return w.pushStaticApp("httpapp", "latest")
}

// PushTestAppVersion pushes the test app as REGISTRY/httpapp:TAG, a distinct
// image whose config adds env (NAME=value, after PORT=8080, so PORT=9090
// moves the app off the port its checks expect) and returns its reference:
// a new image to roll an app to.
func (w *World) PushTestAppVersion(tag string, env ...string) (string, error) {
	return w.pushStaticApp("httpapp", tag, env...)
}

// PushAttacker pushes busybox plus the attack suite's hostile tenant
// (testapps/attacker; entrypoint /app/attacker, PORT=8080) as
// REGISTRY/attacker:latest: an LRP runs it with the arg "serve", a task with
// "run".
func (w *World) PushAttacker() (string, error) {
	return w.pushStaticApp("attacker", "latest")
}

// pushStaticApp pushes busybox plus the static binary BinDir/name as
// /app/name (the entrypoint), PORT=8080 (then env) and 8080/tcp exposed, as
// REGISTRY/name:tag.
func (w *World) pushStaticApp(name, tag string, env ...string) (string, error) {
	bin, err := os.ReadFile(filepath.Join(w.BinDir, name))
	if err != nil {
		return "", fmt.Errorf("%s (see Build): %w", name, err)
	}
	base, err := imagetest.BusyboxImage()
	if err != nil {
		return "", err
	}
	app, err := imagetest.Layer(imagetest.Dir("app", 0o755), imagetest.File("app/"+name, 0o755, bin))
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(base, app)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Config = v1.Config{
		Env:          append([]string{imagetest.Path, "PORT=8080"}, env...),
		Entrypoint:   []string{"/app/" + name},
		WorkingDir:   "/app",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	return w.pushTagged(name, tag, img)
}

func (w *World) push(repo string, img v1.Image) (string, error) {
	return w.pushTagged(repo, "latest", img)
}

func (w *World) pushTagged(repo, tag string, img v1.Image) (string, error) {
	if err := imagetest.Push(w.RegistryHost, repo, tag, img); err != nil {
		return "", err
	}
	return w.RegistryHost + "/" + repo + ":" + tag, nil
}

// RootFS is the rootfs URI of a reference PushTestApp or PushBusybox returned.
func RootFS(ref string) string {
	host, rest, _ := strings.Cut(ref, "/")
	i := strings.LastIndex(rest, ":")
	return "docker://" + host + "/" + rest[:i] + "#" + rest[i+1:]
}
