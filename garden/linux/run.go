package linux

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/initd"
	"golang.org/x/sys/unix"
)

// maxExitedProcesses is how many finished processes a container remembers for
// late attachers before forgetting the oldest.
const maxExitedProcesses = 64

// Run has the container's initd start a process: user resolved from the image's
// /etc/passwd, cwd, environment (image, container, process) and RLIMIT_NOFILE.
func (b *Backend) Run(ctx context.Context, handle string, spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
	c, err := b.lookup(handle)
	if err != nil {
		return nil, err
	}
	if spec.Path == "" {
		return nil, garden.NewInvalidSpecError("process path is empty")
	}
	userSpec := spec.User
	if userSpec == "" {
		userSpec = c.imgConfig.User
	}
	u, err := resolveUser(userSpec, c.passwd)
	if err != nil {
		return nil, err
	}
	env := mergeEnv(c.imgConfig.Env, c.spec.Env, spec.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH="+defaultPath)
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.home)
	}
	if !hasEnv(env, "USER") {
		if name := userName(c.passwd, u.uid); name != "" {
			env = append(env, "USER="+name)
		}
	}
	dir := spec.Dir
	if dir == "" {
		dir = c.imgConfig.WorkingDir
	}
	if dir == "" {
		dir = u.home
		if _, err := statInRoot(c.rootfs, dir); err != nil {
			dir = "/"
		}
	}
	nofile := spec.Limits.Nofile
	if nofile == 0 {
		nofile = b.cfg.DefaultNofile
	}

	proc := initd.Spawn{
		Path:   spec.Path,
		Args:   append([]string{spec.Path}, spec.Args...),
		Env:    env,
		Dir:    dir,
		UID:    u.uid,
		GID:    u.gid,
		Nofile: nofile,
	}
	if spec.TTY != nil {
		size := spec.TTY.OrDefault()
		proc.TTY = &initd.WindowSize{Rows: size.Rows, Cols: size.Cols}
	}
	id, err := c.claimProcessID(spec.ID)
	if err != nil {
		return nil, err
	}
	// A start waits for a slot and for initd: the container stays unlocked.
	p, err := b.startInContainer(ctx, c, id, proc, pio)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.starting, id)
	if err != nil {
		return nil, err
	}
	c.processes[id] = p
	c.order = append(c.order, id)
	c.forgetExitedLocked()
	return p, nil
}

// claimProcessID reserves the given id, or the next free one.
func (c *container) claimProcessID(id string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noticeInitExitLocked()
	if c.state != garden.StateActive {
		return "", garden.NewInvalidSpecError("container %s is %s", c.handle, c.state)
	}
	if id == "" {
		c.nextPID++
		id = "p" + strconv.Itoa(c.nextPID)
	}
	if !processIDRE.MatchString(id) {
		return "", garden.NewInvalidSpecError("process id %q must be letters, digits, '_', '.' or '-'", id)
	}
	if _, ok := c.processes[id]; ok || c.starting[id] {
		return "", garden.NewProcessAlreadyExistsError(c.handle, id)
	}
	c.starting[id] = true
	return id, nil
}

// startInContainer has the container's initd start the process.
func (b *Backend) startInContainer(ctx context.Context, c *container, id string, proc initd.Spawn, pio garden.ProcessIO) (*process, error) {
	handle, path := c.handle, proc.Path
	if err := b.startSlots.take(ctx, nil); err != nil {
		return nil, fmt.Errorf("running %s in %s: %w", path, handle, err)
	}
	defer b.startSlots.give()
	p, err := startProcess(b.clock, c.spawner, id, proc, pio, func() { c.checkOOM(b) })
	var spawnErr *spawnError
	if errors.As(err, &spawnErr) {
		return nil, garden.NewInvalidSpecError("running %s in %s: %s", path, handle, spawnErr.reason)
	}
	if err != nil {
		return nil, fmt.Errorf("running %s in %s: %w", path, handle, err)
	}
	return p, nil
}

// forgetExitedLocked drops the oldest finished processes beyond the limit.
func (c *container) forgetExitedLocked() {
	exited := 0
	for _, id := range c.order {
		if c.processes[id].exited() {
			exited++
		}
	}
	keep := c.order[:0]
	for _, id := range c.order {
		p := c.processes[id]
		if exited > maxExitedProcesses && p.exited() {
			exited--
			delete(c.processes, id)
			continue
		}
		keep = append(keep, id)
	}
	c.order = keep
}

func (b *Backend) Attach(ctx context.Context, handle, processID string, pio garden.ProcessIO) (garden.Process, error) {
	c, err := b.lookup(handle)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	p, ok := c.processes[processID]
	c.mu.Unlock()
	if !ok {
		return nil, garden.NewProcessNotFoundError(handle, processID)
	}
	if pio.Stdout != nil || pio.Stderr != nil {
		p.attach(pio)
	}
	return p, nil
}

// stop sends SIGTERM to everything in the container, waits up to grace for
// the processes garden started to exit, then sends SIGKILL to whatever is left
// (init included). The container is "stopped" afterwards; only Destroy is left.
func (c *container) stop(ctx context.Context, b *Backend, grace time.Duration) error {
	c.mu.Lock()
	var running []*process
	for _, p := range c.processes {
		if !p.exited() {
			running = append(running, p)
		}
	}
	c.mu.Unlock()
	if err := b.signalAll(ctx, c.handle, syscall.SIGTERM); err != nil {
		return err
	}
	timer := b.clock.NewTimer(grace)
	defer timer.Stop()
wait:
	for _, p := range running {
		select {
		case <-p.done:
		case <-timer.C():
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	c.mu.Lock()
	c.state = garden.StateStopped
	c.mu.Unlock()
	if err := b.signalAll(context.WithoutCancel(ctx), c.handle, syscall.SIGKILL); err != nil {
		return err
	}
	return nil
}

func userName(passwd []byte, uid uint32) string {
	for _, e := range parsePasswd(passwd) {
		if e.uid == uid {
			return e.name
		}
	}
	if uid == 0 {
		return "root"
	}
	return ""
}

// statInRoot stats path inside rootfs without following symlinks out of it.
func statInRoot(rootfs, path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := openInRoot(rootfs, path, unix.O_PATH)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	err = unix.Fstat(fd, &st)
	return st, err
}
