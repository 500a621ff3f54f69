package imagetest

import (
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// sysprobe caches the built probe per process.
var sysprobe struct {
	sync.Mutex
	binary []byte
}

// BuildSysprobe builds testapps/sysprobe (one raw system call per argument,
// reporting ok or the errno) as a static binary in dir, once per process.
func BuildSysprobe(dir string) ([]byte, error) {
	sysprobe.Lock()
	defer sysprobe.Unlock()
	if sysprobe.binary != nil {
		return sysprobe.binary, nil
	}
	out := filepath.Join(dir, "sysprobe")
	if err := goBuild(out, "github.com/diego-runtime/diego/testapps/sysprobe"); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	sysprobe.binary = bin
	return bin, nil
}

// ProbeImage is BusyboxImage plus a layer with the probe at /probe/sysprobe
// and the test HTTP app at /app/httpapp (both built in dir on first use).
// Env PATH, Cmd ["sh"].
func ProbeImage(dir string) (v1.Image, error) {
	probe, err := BuildSysprobe(dir)
	if err != nil {
		return nil, err
	}
	app, err := BuildHTTPApp(dir)
	if err != nil {
		return nil, err
	}
	base, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	tools, err := Layer(Dir("probe", 0o755), File("probe/sysprobe", 0o755, probe),
		Dir("app", 0o755), File("app/httpapp", 0o755, app))
	if err != nil {
		return nil, err
	}
	return image(v1.Config{Env: []string{Path}, Cmd: []string{"sh"}}, base, tools)
}
