package world

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// builds remembers, per bin dir, the outcome of the one build this process
// does there.
var builds struct {
	sync.Mutex
	done map[string]error
}

// Build builds every binary (cmd/... and the static test app) into binDir,
// once per process and directory; later calls return the first outcome.
func Build(binDir string) error {
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	builds.Lock()
	defer builds.Unlock()
	if builds.done == nil {
		builds.done = map[string]error{}
	}
	if err, ok := builds.done[abs]; ok {
		return err
	}
	err = build(abs)
	builds.done[abs] = err
	return err
}

func build(binDir string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	steps := []struct {
		args []string
		env  []string
	}{
		{[]string{"build", "-ldflags", versionLDFlags(root), "-o", binDir + string(filepath.Separator), "./cmd/..."}, nil},
		{[]string{"build", "-o", filepath.Join(binDir, "httpapp"), "./testapps/httpapp"}, []string{"CGO_ENABLED=0"}},
		{[]string{"build", "-o", filepath.Join(binDir, "attacker"), "./testapps/attacker"}, []string{"CGO_ENABLED=0"}},
	}
	for _, s := range steps {
		cmd := exec.Command(goBin, s.args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), s.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %v: %w: %s", s.args, err, out)
		}
	}
	return nil
}

// versionLDFlags links in the build's version as the Makefile does (GET
// /v1/version answers it), or nothing when git cannot describe the tree.
func versionLDFlags(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return "-X github.com/diego-runtime/diego/internal/version.release=" + strings.TrimSpace(string(out))
}

// ModuleRoot is the directory of the go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
