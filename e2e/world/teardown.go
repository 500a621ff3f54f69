package world

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KillCell makes cell i (0-based) vanish as a machine would: SIGKILL to its
// garden and rep, to the runc processes garden started, and to every process
// in the cell's containers (found through their cgroups).
func (w *World) KillCell(i int) error {
	if i < 0 || i >= w.Config.Cells {
		return fmt.Errorf("no cell %d", i)
	}
	w.mu.Lock()
	w.killed[i] = true
	w.damaged = true
	w.mu.Unlock()
	cell := w.Config.CellLayout(i)
	daemons := []string{
		"-config " + filepath.Join(w.StateDir, "config", cell.ID+"-garden.json"),
		"-config " + filepath.Join(w.StateDir, "config", cell.ID+"-rep.json"),
	}
	for _, p := range processes() {
		for _, d := range daemons {
			if strings.Contains(p.cmdline, d) {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
	}
	for attempt := 0; attempt < 20; attempt++ {
		left := 0
		for _, p := range processes() {
			if strings.Contains(p.cmdline, cell.StateDir+"/") {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				left++
			}
		}
		for _, pid := range cgroupPids(cell.Bridge) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			left++
		}
		if left == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("cell %s: processes survived SIGKILL", cell.ID)
}

// Damaged says whether a cell was killed or evacuated: the cluster runs on,
// with fewer cells than it started with.
func (w *World) Damaged() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.damaged
}

// AdminURL is the rep admin address of cell i (POST /evacuate).
func (w *World) AdminURL(i int) string {
	return fmt.Sprintf("http://127.0.0.1:%d", w.Config.CellLayout(i).AdminPort)
}

// Evacuate asks cell i's rep to drain (POST /evacuate on its admin port).
func (w *World) Evacuate(i int) (Response, error) {
	w.mu.Lock()
	w.damaged = true
	w.mu.Unlock()
	req, err := http.NewRequest(http.MethodPost, w.AdminURL(i)+"/evacuate", nil)
	if err != nil {
		return Response{}, err
	}
	return do(req)
}

// Stop sends `diego up` SIGINT and waits for it. It then looks for what the
// cluster left behind (processes of the cluster or of its containers, mounts
// under the state dir), removes it, and returns an error naming it. Leftovers
// of cells killed on purpose are removed without complaint.
func (w *World) Stop() error {
	var errs []error
	if err := w.undoFaults(); err != nil {
		errs = append(errs, err)
	}
	if w.Running() {
		_ = w.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-w.exited:
		case <-time.After(w.opts.StopTimeout):
			_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
			<-w.exited
			errs = append(errs, fmt.Errorf("diego up did not stop within %s after SIGINT", w.opts.StopTimeout))
		}
	}
	if left := w.Leftovers(); !left.Empty() {
		errs = append(errs, left)
	}
	w.sweep()
	if w.ownedState {
		// Keep the daemons' logs of a stop that went wrong, nothing else.
		keep := len(errs) > 0
		entries, _ := os.ReadDir(w.StateDir)
		for _, e := range entries {
			if !(keep && e.Name() == "logs") {
				_ = os.RemoveAll(filepath.Join(w.StateDir, e.Name()))
			}
		}
		if !keep {
			_ = os.Remove(w.StateDir)
		}
	}
	return errors.Join(errs...)
}

// LeftoversError is what a stopped cluster left behind.
type LeftoversError struct {
	Daemons    []string // processes of the cluster itself (daemons, runc)
	Containers []string // processes inside the cells' containers
	Mounts     []string // mount points under the state dir
}

// Empty says nothing was left.
func (e *LeftoversError) Empty() bool {
	return len(e.Daemons)+len(e.Containers)+len(e.Mounts) == 0
}

func (e *LeftoversError) Error() string {
	all := append(append(append([]string{}, e.Daemons...), e.Containers...), e.Mounts...)
	return "left behind after diego up stopped:\n  " + strings.Join(all, "\n  ")
}

// Leftovers lists what of the cluster still exists (call once it stopped),
// ignoring cells killed on purpose.
func (w *World) Leftovers() *LeftoversError {
	w.mu.Lock()
	killed := map[int]bool{}
	for i := range w.killed {
		killed[i] = true
	}
	w.mu.Unlock()
	skip := func(path string) bool {
		for i := range killed {
			if strings.HasPrefix(path, w.Config.CellLayout(i).StateDir+"/") {
				return true
			}
		}
		return false
	}
	left := &LeftoversError{}
	for _, p := range processes() {
		if p.pid == os.Getpid() {
			continue
		}
		if idx := strings.Index(p.cmdline, w.StateDir+"/"); idx >= 0 && !skip(p.cmdline[idx:]) {
			left.Daemons = append(left.Daemons, fmt.Sprintf("process %d: %s", p.pid, p.cmdline))
		}
	}
	for i := 0; i < w.Config.Cells; i++ {
		if killed[i] {
			continue
		}
		for _, pid := range cgroupPids(w.Config.CellLayout(i).Bridge) {
			left.Containers = append(left.Containers, fmt.Sprintf("process %d in a container of %s: %s", pid, w.Config.CellLayout(i).ID, cmdline(pid)))
		}
	}
	for _, m := range mountsUnder(w.StateDir) {
		if !skip(m + "/") {
			left.Mounts = append(left.Mounts, "mount "+m)
		}
	}
	return left
}

// sweep removes every trace the cluster may have left: processes, container
// processes, mounts and the cells' cgroups.
func (w *World) sweep() {
	for attempt := 0; attempt < 20; attempt++ {
		n := 0
		for _, p := range processes() {
			if p.pid != os.Getpid() && strings.Contains(p.cmdline, w.StateDir+"/") {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				n++
			}
		}
		for i := 0; i < w.Config.Cells; i++ {
			for _, pid := range cgroupPids(w.Config.CellLayout(i).Bridge) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mounts := mountsUnder(w.StateDir)
	for j := len(mounts) - 1; j >= 0; j-- { // deepest last-mounted first
		_ = syscall.Unmount(mounts[j], syscall.MNT_DETACH)
	}
	for i := 0; i < w.Config.Cells; i++ {
		bridge := w.Config.CellLayout(i).Bridge
		for _, root := range cgroupRoots(bridge) {
			removeCgroupTree(root)
		}
		removeNetwork(bridge)
	}
}

type process struct {
	pid     int
	cmdline string
}

// processes lists every process with its command line (NULs as spaces).
func processes() []process {
	entries, _ := os.ReadDir("/proc")
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c := cmdline(pid); c != "" {
			out = append(out, process{pid: pid, cmdline: c})
		}
	}
	return out
}

func cmdline(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// cgroupRoots are the cgroup directories garden makes for a cell's bridge,
// in every v1 controller and in the v2 hierarchy.
func cgroupRoots(bridge string) []string {
	v1, _ := filepath.Glob("/sys/fs/cgroup/*/garden-" + bridge)
	v2, _ := filepath.Glob("/sys/fs/cgroup/garden-" + bridge)
	return append(v1, v2...)
}

// cgroupPids lists the processes in a cell's containers.
func cgroupPids(bridge string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, root := range cgroupRoots(bridge) {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

func removeCgroupTree(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for j := len(dirs) - 1; j >= 0; j-- {
		_ = syscall.Rmdir(dirs[j])
	}
}

// mountsUnder lists mount points at or below dir, in mount order.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
