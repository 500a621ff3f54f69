//go:build e2e

package multimachine_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// releaseBins are the binaries of the release (the Makefile's RELEASE_BINS).
var releaseBins = []string{"auctioneer", "bbs", "converger", "diego", "garden", "garden-init", "receptor", "rep", "route-emitter", "router"}

// buildRelease builds the release tarball as `make release` does (static
// binaries, `diego release`) and unpacks it; it returns the unpacked release.
func buildRelease(source string) (string, error) {
	bin := filepath.Join(runDir, "build", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	args := []string{"build", "-trimpath", "-o", bin + "/"}
	for _, b := range releaseBins {
		args = append(args, "./cmd/"+b)
	}
	build := exec.Command("go", args...)
	build.Dir, build.Env = source, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the release's binaries: %v: %s", err, out)
	}
	tgz := filepath.Join(runDir, "build", "diego-e2e.tgz")
	if err := sh(filepath.Join(bin, "diego"), "release", "--source", source, "--bin", bin, "--version", "e2e", "--out", tgz); err != nil {
		return "", err
	}
	unpacked := filepath.Join(runDir, "release")
	if err := os.MkdirAll(unpacked, 0o755); err != nil {
		return "", err
	}
	if err := sh("tar", "xzf", tgz, "-C", unpacked); err != nil {
		return "", err
	}
	return filepath.Join(unpacked, "diego-e2e"), nil
}

// deployment is the release on the machines and the processes it runs.
type deployment struct {
	release string // the unpacked release
	certs   string // what `diego certs` wrote
	logs    string

	mu    sync.Mutex
	procs map[string][]*exec.Cmd // by machine name
}

// diego runs the release's own diego command.
func (d *deployment) diego(args ...string) error {
	return sh(append([]string{filepath.Join(d.release, "bin", "diego")}, args...)...)
}

// mintCerts writes the CA and every role's certificate, each valid for the
// addresses of the machines its daemon runs on.
func (d *deployment) mintCerts() error {
	var brainIPs, cellIDs []string
	for i := 1; i <= brains; i++ {
		brainIPs = append(brainIPs, brainMachine(i).IP)
	}
	args := []string{"certs", "--dir", d.certs}
	for i := 1; i <= cells; i++ {
		m := cellMachine(i)
		cellIDs = append(cellIDs, m.Name)
		args = append(args, "--host", "rep-"+m.Name+"="+m.IP)
	}
	args = append(args, "--cells", strings.Join(cellIDs, ","))
	for _, role := range []string{"bbs", "auctioneer", "converger", "route-emitter", "receptor", "router", "etcd", "nats"} {
		args = append(args, "--host", role+"="+strings.Join(brainIPs, ","))
	}
	return d.diego(args...)
}

// install puts a job on a machine with `diego install`, from properties.
func (d *deployment) install(m machine, job string, props map[string]any) error {
	data, err := json.MarshalIndent(props, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(runDir, "properties", m.Name+"-"+job+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	return d.diego("install", job, "--properties", path, "--root", m.Root, "--certs", d.certs)
}

// unitCommands reads the ExecStartPre and ExecStart lines of a job's
// installed systemd unit: what systemd would run on the machine.
func unitCommands(m machine, job string) (pre [][]string, start []string, err error) {
	f, err := os.Open(filepath.Join(m.Root, "etc/systemd/system", "diego-"+job+".service"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if v, ok := strings.CutPrefix(line, "ExecStartPre="); ok {
			pre = append(pre, strings.Fields(v))
		} else if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			start = strings.Fields(v)
		}
	}
	if start == nil {
		return nil, nil, fmt.Errorf("%s: diego-%s.service has no ExecStart", m.Name, job)
	}
	return pre, start, scanner.Err()
}

// onMachine is a command run on the machine: in its network namespace, in
// a mount namespace of its own where the machine's root provides
// /etc/diego and /opt/diego.
func onMachine(m machine, args ...string) *exec.Cmd {
	for _, d := range []string{"etc/diego", "opt/diego"} {
		// A failure shows as the mount's, in the command's output.
		_ = os.MkdirAll(filepath.Join(m.Root, d), 0o755)
	}
	script := `mount --bind "$0/etc/diego" /etc/diego && mount --bind "$0/opt/diego" /opt/diego && exec "$@"`
	// nsenter rather than `ip netns exec`, which mounts a sysfs of the
	// namespace's own over /sys and so hides /sys/fs/cgroup from garden.
	full := append([]string{"--net=/run/netns/" + m.Namespace, "unshare", "-m", "--propagation", "private", "sh", "-c", script, m.Root}, args...)
	cmd := exec.Command("nsenter", full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// start runs a job on a machine as its unit says: each ExecStartPre to
// its end, then ExecStart in the background.
func (d *deployment) start(m machine, job string) error {
	pre, start, err := unitCommands(m, job)
	if err != nil {
		return err
	}
	for _, p := range pre {
		if out, err := onMachine(m, p...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %s: %v: %s", m.Name, strings.Join(p, " "), err, out)
		}
	}
	return d.spawn(m, job, onMachine(m, start...))
}

// startMember runs an etcd member or NATS node (this suite's binary) on a
// brain machine.
func (d *deployment) startMember(m machine, name string, cfg memberConfig) error {
	path := filepath.Join(m.Root, "etc/diego", name, "member.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := onMachine(m, self)
	cmd.Env = append(os.Environ(), memberEnv+"=/etc/diego/"+name+"/member.json")
	return d.spawn(m, name, cmd)
}

func (d *deployment) spawn(m machine, name string, cmd *exec.Cmd) error {
	log, err := os.Create(filepath.Join(d.logs, m.Name+"-"+name+".log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%s: starting %s: %w", m.Name, name, err)
	}
	go func() { _ = cmd.Wait(); log.Close() }()
	d.mu.Lock()
	d.procs[m.Name] = append(d.procs[m.Name], cmd)
	d.mu.Unlock()
	return nil
}

// stop sends SIGTERM to every process the deployment started on m (last
// started first) and waits up to grace for them; the rest get SIGKILL.
func (d *deployment) stop(m machine, grace time.Duration) {
	d.mu.Lock()
	procs := d.procs[m.Name]
	d.procs[m.Name] = nil
	d.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		_ = p.Process.Signal(syscall.SIGTERM)
		for deadline := time.Now().Add(grace); time.Now().Before(deadline) && !exited(p.Process.Pid); {
			time.Sleep(100 * time.Millisecond)
		}
		_ = p.Process.Kill()
	}
}

// exited says whether pid is gone or a zombie.
func exited(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(data))
	return len(f) > 2 && f[2] == "Z"
}

// mountPoints makes /etc/diego and /opt/diego exist on the host, as the
// points the machines' own are mounted on; it returns those it made, for
// the teardown to remove.
func mountPoints() ([]string, error) {
	var made []string
	for _, p := range []string{"/etc/diego", "/opt/diego"} {
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return made, err
		}
		made = append(made, p)
	}
	return made, nil
}
