package imagetest

import (
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SetuidPath is where SetuidImage puts its setuid-root program.
const SetuidPath = "euid"

// SetuidImage is busybox plus a layer holding /euid, owned by root with mode
// 4755: a program that prints its effective uid, built in dir. Run by another
// user it prints 0 exactly when the setuid bit takes effect.
func SetuidImage(dir string) (v1.Image, error) {
	out := filepath.Join(dir, "euid")
	if err := goBuild(out, "github.com/diego-runtime/diego/garden/imagetest/euid"); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	base, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	layer, err := Layer(File(SetuidPath, 0o4755, bin).Owned(0, 0))
	if err != nil {
		return nil, err
	}
	return image(v1.Config{Env: []string{Path}, Cmd: []string{"sh"}}, base, layer)
}
