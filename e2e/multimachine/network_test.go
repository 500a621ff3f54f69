//go:build e2e

package multimachine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden/imagetest"
)

// The switch and its machines. The names and the subnet are this suite's
// alone: nothing else in the repository uses mm243* links or 10.243/16.
const (
	runDir = "/tmp/multi-run"
	// logDir keeps every daemon's output after the run, for a failure's
	// reader; the next run empties it.
	logDir     = "/tmp/multi-run-logs"
	switchName = "mm243br"
	switchIP   = "10.243.0.1" // the host's port on the switch: where the test stands
	switchNet  = "10.243.0.0/16"
	brains     = 3
	cells      = 3
	// uidBase starts the cells' garden uid ranges far above diego up's.
	uidBase = 1_000_000_000
)

// machine is one network stack with an address on the switch and a root
// whose etc/diego and opt/diego are the machine's /etc/diego and /opt/diego.
type machine struct {
	Name      string // brain-1, cell-2
	Namespace string // under /run/netns
	HostVeth  string // the switch's end of the machine's link
	IP        string
	Root      string
}

func brainMachine(i int) machine { return newMachine(fmt.Sprintf("brain-%d", i), "b", i, 10+i) }
func cellMachine(i int) machine  { return newMachine(fmt.Sprintf("cell-%d", i), "c", i, 20+i) }

func newMachine(name, kind string, i, host int) machine {
	return machine{Name: name, Namespace: "mm243-" + kind + strconv.Itoa(i), HostVeth: "mm243" + kind + strconv.Itoa(i),
		IP: "10.243.0." + strconv.Itoa(host), Root: filepath.Join(runDir, "machines", name)}
}

func allMachines() []machine {
	var out []machine
	for i := 1; i <= brains; i++ {
		out = append(out, brainMachine(i))
	}
	for i := 1; i <= cells; i++ {
		out = append(out, cellMachine(i))
	}
	return out
}

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// buildSwitch makes the bridge and plugs every machine into it.
func buildSwitch() error {
	cmds := [][]string{
		{"ip", "link", "add", switchName, "type", "bridge"},
		{"ip", "addr", "add", switchIP + "/24", "dev", switchName},
		{"ip", "link", "set", switchName, "up"},
	}
	for _, m := range allMachines() {
		in := func(args ...string) []string { return append([]string{"ip", "netns", "exec", m.Namespace}, args...) }
		cmds = append(cmds,
			[]string{"ip", "netns", "add", m.Namespace},
			[]string{"ip", "link", "add", m.HostVeth, "type", "veth", "peer", "name", "eth0", "netns", m.Namespace},
			[]string{"ip", "link", "set", m.HostVeth, "master", switchName},
			[]string{"ip", "link", "set", m.HostVeth, "up"},
			in("ip", "link", "set", "lo", "up"),
			in("ip", "addr", "add", m.IP+"/24", "dev", "eth0"),
			in("ip", "link", "set", "eth0", "up"),
			in("ip", "route", "add", "default", "via", switchIP),
			in("sysctl", "-qw", "net.ipv4.ip_forward=1"),
		)
	}
	for _, c := range cmds {
		if err := sh(c...); err != nil {
			return err
		}
	}
	return nil
}

// cutOff takes a machine off the switch: packets to it are dropped, as
// when a machine's network is gone, rather than refused.
func cutOff(m machine) error { return sh("ip", "link", "set", m.HostVeth, "down") }

// killMachine SIGKILLs every process in the machine's network namespace.
// Containers live in namespaces of their own: a cell's are found by its
// garden's cgroups (see killContainers).
func killMachine(m machine) {
	out, _ := exec.Command("ip", "netns", "pids", m.Namespace).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// killContainers SIGKILLs every process in a cgroup of one of the cells'
// gardens (cgroup_parent garden-mm243c*), on cgroup v1 and v2.
func killContainers() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/garden-mm243c*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/garden-mm243c*")
	for _, d := range append(dirs, v2...) {
		_ = filepath.Walk(d, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// teardown removes whatever a run (this one, or a killed one before it)
// left: processes, containers, mounts, loop devices, links, namespaces and
// the run directory. Missing pieces are fine; it says what it could not do.
func teardown(say func(string, ...any)) {
	for _, m := range allMachines() {
		killMachine(m)
	}
	killContainers()
	time.Sleep(500 * time.Millisecond)
	for _, m := range allMachines() {
		_ = exec.Command("ip", "link", "del", m.HostVeth).Run()
		_ = exec.Command("ip", "netns", "del", m.Namespace).Run()
	}
	_ = exec.Command("ip", "link", "del", switchName).Run()
	// Mounts below the run directory (in this namespace), deepest first.
	if data, err := os.ReadFile("/proc/self/mounts"); err == nil {
		var points []string
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], runDir+"/") {
				points = append(points, f[1])
			}
		}
		for i := len(points) - 1; i >= 0; i-- {
			if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
				say("teardown: unmounting %s: %v", points[i], err)
			}
		}
	}
	if loops, err := imagetest.LoopsBackedUnder(runDir); err == nil {
		for _, l := range loops {
			if err := sh("losetup", "-d", l); err != nil {
				say("teardown: %v", err)
			}
		}
	}
	killContainers()
	for _, d := range cgroupDirs() {
		removeCgroupTree(d)
	}
	if err := os.RemoveAll(runDir); err != nil {
		say("teardown: removing %s: %v", runDir, err)
	}
}

func cgroupDirs() []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/garden-mm243c*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/garden-mm243c*")
	return append(dirs, v2...)
}

// removeCgroupTree removes a cgroup directory and its children, deepest first.
func removeCgroupTree(dir string) {
	var all []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			all = append(all, p)
		}
		return nil
	})
	for i := len(all) - 1; i >= 0; i-- {
		_ = os.Remove(all[i])
	}
}
