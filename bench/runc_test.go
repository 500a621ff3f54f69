package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rawRuncFloor times `runc run -d` of n bundles equivalent to what garden runs
// for the test app, par at a time, and returns the wall time.
func rawRuncFloor(b *testing.B, binary string, n, par int) time.Duration {
	return rawFloor(b, "runc", binary, n, par)
}

// rawFloor is rawRuncFloor with another OCI runtime (runc or crun) in runc's
// place. Prepared
// beforehand (not timed), as garden's image cache would have them: a shared
// lower layer holding the app and, per bundle, an overlay rootfs with its own
// upper directory and a config.json with the namespaces garden uses (mount,
// pid, uts, ipc, network and a user namespace mapping root to an unprivileged
// uid range), a 32 MB memory and 100 pid limit. What differs from garden: no
// veth, bridge, IP or DNAT rules (the network namespace has only lo), and
// runc's default capabilities and masked paths rather than garden's seccomp
// profile and init process.
func rawFloor(b *testing.B, runtime, binary string, n, par int) time.Duration {
	b.Helper()
	dir, err := os.MkdirTemp("/tmp", "diego-bench-runc-")
	must(b, err)
	defer os.RemoveAll(dir)
	// The container's root (host uid 100000) must reach its rootfs.
	must(b, os.Chmod(dir, 0o755))
	lower := filepath.Join(dir, "lower")
	for _, d := range []string{"app", "tmp", "proc", "dev", "sys", "etc"} {
		must(b, os.MkdirAll(filepath.Join(lower, d), 0o755))
	}
	must(b, os.Chmod(filepath.Join(lower, "tmp"), 0o1777))
	data, err := os.ReadFile(binary)
	must(b, err)
	must(b, os.WriteFile(filepath.Join(lower, "app", "httpapp"), data, 0o755))

	ids := make([]string, n)
	bundles := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("diego-bench-raw-%d", i)
		bundles[i] = filepath.Join(dir, strconv.Itoa(i))
		rootfs := filepath.Join(bundles[i], "rootfs")
		for _, d := range []string{rootfs, filepath.Join(bundles[i], "upper"), filepath.Join(bundles[i], "work")} {
			must(b, os.MkdirAll(d, 0o755))
		}
		// The container's root is host uid 100000, as under garden.
		must(b, os.Chown(filepath.Join(bundles[i], "upper"), 100000, 100000))
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, bundles[i], bundles[i])
		must(b, syscall.Mount("overlay", rootfs, "overlay", 0, opts))
		must(b, writeRuncConfig(bundles[i], rootfs, ids[i]))
	}
	defer func() {
		for i := range n {
			_ = exec.Command(runtime, "delete", "-f", ids[i]).Run()
			_ = syscall.Unmount(filepath.Join(bundles[i], "rootfs"), syscall.MNT_DETACH)
		}
		for _, ctrl := range []string{"memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio"} {
			entries, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", ctrl, "diego-bench-raw"))
			for _, e := range entries {
				_ = os.Remove(filepath.Join("/sys/fs/cgroup", ctrl, "diego-bench-raw", e.Name()))
			}
			_ = os.Remove(filepath.Join("/sys/fs/cgroup", ctrl, "diego-bench-raw"))
		}
	}()

	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// A file, not a pipe: the detached container keeps its stdio.
				out, err := os.Create(filepath.Join(bundles[i], "out.log"))
				if err == nil {
					cmd := exec.Command(runtime, "run", "-d", "--no-new-keyring", "--bundle", bundles[i], ids[i])
					cmd.Stdout, cmd.Stderr = out, out
					err = cmd.Run()
					out.Close()
				}
				if err != nil {
					log, _ := os.ReadFile(filepath.Join(bundles[i], "out.log"))
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s run -d %s: %v: %s", runtime, ids[i], err, log)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	must(b, firstErr)
	return took
}

func writeRuncConfig(bundle, rootfs, id string) error {
	mapping := []map[string]any{{"containerID": 0, "hostID": 100000, "size": 65536}}
	spec := map[string]any{
		"ociVersion": "1.0.2-dev",
		"process": map[string]any{
			"terminal": false,
			"user":     map[string]any{"uid": 0, "gid": 0},
			"args":     []string{"/app/httpapp"},
			"env":      []string{"PATH=/usr/bin:/bin", "PORT=8080", "INSTANCE_INDEX=0"},
			"cwd":      "/",
			"capabilities": map[string]any{
				"bounding":  []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"},
				"effective": []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"},
				"permitted": []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"},
			},
			"rlimits":         []map[string]any{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}},
			"noNewPrivileges": true,
		},
		"root":     map[string]any{"path": rootfs, "readonly": false},
		"hostname": id,
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": []string{"nosuid", "noexec", "nodev"}},
			{"destination": "/sys", "type": "none", "source": "/sys", "options": []string{"rbind", "nosuid", "noexec", "nodev", "ro"}},
		},
		"linux": map[string]any{
			"uidMappings": mapping,
			"gidMappings": mapping,
			"cgroupsPath": "/diego-bench-raw/" + id,
			"resources": map[string]any{
				"memory":  map[string]any{"limit": 32 << 20},
				"pids":    map[string]any{"limit": 100},
				"devices": []map[string]any{{"allow": false, "access": "rwm"}},
			},
			"namespaces": []map[string]any{
				{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"},
			},
			"maskedPaths":   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"},
			"readonlyPaths": []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
}
