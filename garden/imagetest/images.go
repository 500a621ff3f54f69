package imagetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// BusyboxPath is where Debian's busybox-static puts its binary.
const BusyboxPath = "/bin/busybox"

// Path is the PATH of every fixture image.
const Path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// VcapUID is the uid (and gid) of the image's unprivileged user "vcap".
const VcapUID = 2000

// Applets get a /bin symlink to busybox in BusyboxImage.
var Applets = []string{
	"sh", "ash", "ls", "cat", "echo", "sleep", "id", "whoami", "env", "pwd", "true", "false",
	"kill", "killall", "ps", "mount", "umount", "touch", "mkdir", "rm", "rmdir", "wc", "head",
	"tail", "yes", "dd", "grep", "sed", "awk", "cut", "tr", "sort", "uniq", "find", "xargs",
	"cp", "mv", "ln", "chmod", "chown", "stat", "test", "[", "printf", "seq", "tee", "date",
	"hostname", "uname", "df", "du", "ip", "nc", "wget", "ping", "nproc", "free", "top",
	"readlink", "basename", "dirname", "which", "timeout", "mknod", "mkfifo", "sync", "expr",
	"su", "setsid", "nslookup", "ifconfig", "httpd", "vi", "tar", "gzip", "md5sum",
	"sha256sum", "cmp", "diff", "truncate", "fallocate", "usleep", "pidof",
}

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"vcap:x:2000:2000:vcap:/home/vcap:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\nvcap:x:2000:\nnogroup:x:65534:\n"
)

// busyboxLayer is built once per process: reading and compressing busybox is
// the slow part of every fixture.
var busyboxLayer = sync.OnceValues(func() (v1.Layer, error) {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("reading busybox (install busybox-static): %w", err)
	}
	entries := []Entry{
		Dir("bin", 0o755), Dir("sbin", 0o755), Dir("usr", 0o755), Dir("usr/bin", 0o755),
		Dir("etc", 0o755), Dir("root", 0o700), Dir("home", 0o755),
		Dir("home/vcap", 0o755).Owned(VcapUID, VcapUID),
		Dir("tmp", 0o1777), Dir("var", 0o755), Dir("var/tmp", 0o1777),
		Dir("dev", 0o755), Dir("proc", 0o555), Dir("sys", 0o555),
		File("bin/busybox", 0o755, bin),
		File("etc/passwd", 0o644, []byte(passwd)),
		File("etc/group", 0o644, []byte(group)),
		File("etc/hosts", 0o644, []byte("127.0.0.1 localhost\n")),
		File("etc/resolv.conf", 0o644, nil),
		File("etc/hostname", 0o644, []byte("busybox\n")),
	}
	for _, a := range Applets {
		entries = append(entries, Symlink("bin/"+a, "busybox"))
	}
	return Layer(entries...)
})

// BusyboxImage is a one-layer image with Debian's static busybox as /bin/busybox,
// /bin symlinks for the Applets, users root, vcap (2000) and nobody, /tmp (1777)
// and /home/vcap. Config: Env PATH, Cmd ["sh"].
func BusyboxImage() (v1.Image, error) {
	layer, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	return image(v1.Config{Env: []string{Path}, Cmd: []string{"sh"}}, layer)
}

// httpApp caches the built test app per process.
var httpApp struct {
	sync.Mutex
	binary []byte
}

// BuildHTTPApp builds testapps/httpapp as a static binary in dir (once per
// process; later calls return the first build's bytes).
func BuildHTTPApp(dir string) ([]byte, error) {
	httpApp.Lock()
	defer httpApp.Unlock()
	if httpApp.binary != nil {
		return httpApp.binary, nil
	}
	out := filepath.Join(dir, "httpapp")
	if err := goBuild(out, "github.com/diego-runtime/diego/testapps/httpapp"); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	httpApp.binary = bin
	return bin, nil
}

// BuildInit builds cmd/garden-init (every container's pid 1) into dir, for a
// garden run inside a test binary: its init_path has no default there. The
// directory must be readable by every user (containers' roots are not host root).
func BuildInit(dir string) (string, error) {
	out := filepath.Join(dir, "garden-init")
	if err := goBuild(out, "github.com/diego-runtime/diego/cmd/garden-init"); err != nil {
		return "", err
	}
	return out, os.Chmod(out, 0o755)
}

// BuildPinger builds the pinger command (an ICMP echo over a datagram socket,
// for containers without NET_RAW) into dir and returns its path.
func BuildPinger(dir string) (string, error) {
	out := filepath.Join(dir, "pinger")
	if err := goBuild(out, "github.com/diego-runtime/diego/garden/imagetest/pinger"); err != nil {
		return "", err
	}
	return out, os.Chmod(out, 0o755)
}

// PrebuiltEnv names a directory of these helpers built beforehand (each
// named after its package's last element, static), which goBuild copies
// instead of building: scripts/vm/test.sh builds them on the host, as a
// go build inside its emulated guest takes minutes.
const PrebuiltEnv = "DIEGO_TEST_PREBUILT"

// goBuild builds a static binary of pkg at out.
func goBuild(out, pkg string) error {
	if dir := os.Getenv(PrebuiltEnv); dir != "" {
		src := filepath.Join(dir, path.Base(pkg))
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("%s is set but has no %s: %w", PrebuiltEnv, path.Base(pkg), err)
		}
		return os.WriteFile(out, data, 0o755)
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w: %s", pkg, err, output)
	}
	return nil
}

// HTTPAppImage is BusyboxImage plus a layer with the test app at /app/httpapp
// (built in dir on first use). Entrypoint /app/httpapp, Env PATH and PORT=8080,
// ExposedPorts 8080/tcp.
func HTTPAppImage(dir string) (v1.Image, error) {
	bin, err := BuildHTTPApp(dir)
	if err != nil {
		return nil, err
	}
	base, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	app, err := Layer(Dir("app", 0o755), File("app/httpapp", 0o755, bin))
	if err != nil {
		return nil, err
	}
	return image(v1.Config{
		Env:          []string{Path, "PORT=8080"},
		Entrypoint:   []string{"/app/httpapp"},
		WorkingDir:   "/app",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}, base, app)
}

// WhiteoutImage is busybox plus two layers: the first creates /a/x, /a/keep,
// /d/y and /f; the second deletes /a/x and /f (whiteouts) and makes /d opaque
// with a new /d/z. A correct rootfs has /a/keep, /d/z and nothing else of those.
func WhiteoutImage() (v1.Image, error) {
	base, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	first, err := Layer(
		Dir("a", 0o755), File("a/x", 0o644, []byte("x")), File("a/keep", 0o644, []byte("keep")),
		Dir("d", 0o755), File("d/y", 0o644, []byte("y")), File("f", 0o644, []byte("f")),
	)
	if err != nil {
		return nil, err
	}
	second, err := Layer(
		Whiteout("a/x"), Whiteout("f"),
		Dir("d", 0o755), Opaque("d"), File("d/z", 0o644, []byte("z")),
	)
	if err != nil {
		return nil, err
	}
	return image(v1.Config{Env: []string{Path}, Cmd: []string{"sh"}}, base, first, second)
}

// FiveLayerImage is busybox plus four layers of 1 MiB of incompressible data
// each (/data/layerN.bin): the pull benchmark's image.
func FiveLayerImage() (v1.Image, error) {
	base, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	layers := []v1.Layer{base}
	for i := 1; i <= 4; i++ {
		data := make([]byte, 1<<20)
		rng := rand.New(rand.NewChaCha8([32]byte{byte(i)}))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		l, err := Layer(Dir("data", 0o755), File(fmt.Sprintf("data/layer%d.bin", i), 0o644, data))
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	return image(v1.Config{Env: []string{Path}, Cmd: []string{"sh"}}, layers...)
}

// Image stacks layers (bottom first) into an image with config.
func Image(config v1.Config, layers ...v1.Layer) (v1.Image, error) {
	return image(config, layers...)
}

func image(config v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config = config
	return mutate.ConfigFile(img, cf)
}

// Must returns v, panicking on err: for fixtures in test setup, where a
// failure means the environment is broken.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
