// Package initd is pid 1 of every garden container. Garden starts it with
// `runc run` and one end of a socket pair as fd 3; through it garden asks for
// processes, which initd starts as its own children (so they inherit the
// container's namespaces, cgroups, seccomp filter, no_new_privs and capability
// bound without a `runc exec` each), and initd reports each one's exit status.
// It reaps every orphan, and no signal ends it: only SIGKILL from outside,
// which takes the whole container with it.
package initd

// SocketFD is the descriptor initd finds its end of garden's socket pair at
// (runc run --preserve-fds 2; fd 4 is WorkCgroupFD).
const SocketFD = 3

// Request is one message from garden: spawn a process, or signal one.
// A spawn carries the process's stdio as SCM_RIGHTS descriptors: stdout and
// stderr (stdin is /dev/null), or stdin, stdout and stderr; none with a TTY.
type Request struct {
	Op     string `json:"op"` // OpSpawn or OpSignal
	ID     string `json:"id"` // garden's process id, unique among live processes
	Spawn  *Spawn `json:"spawn,omitempty"`
	Signal int    `json:"signal,omitempty"`
}

// Ops.
const (
	OpSpawn  = "spawn"
	OpSignal = "signal"
)

// Spawn describes a process. Path without a '/' is looked up in Env's PATH.
type Spawn struct {
	Path   string   `json:"path"`
	Args   []string `json:"args"` // argv, Args[0] included
	Env    []string `json:"env"`
	Dir    string   `json:"dir"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Nofile uint64   `json:"nofile"` // RLIMIT_NOFILE, soft and hard
	// TTY, when set, runs the process on a new pseudo-terminal of the
	// container's own devpts, of this initial size, as the leader of a new
	// session with the terminal as its controlling one. initd hands the
	// terminal's master to garden with the start Event (SCM_RIGHTS).
	TTY *WindowSize `json:"tty,omitempty"`
}

// WindowSize is a terminal's size in characters.
type WindowSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// Event is one message to garden: a process started (Pid, in the container's
// pid namespace; with a TTY the message carries the terminal's master as its
// one SCM_RIGHTS descriptor), could not start (Error), or exited (Exited,
// Status: the exit code, or 128+n when killed by signal n).
type Event struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid,omitempty"`
	Error  string `json:"error,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status int    `json:"status,omitempty"`
}

// MaxMessage bounds one message (a process's environment included).
const MaxMessage = 1 << 20
