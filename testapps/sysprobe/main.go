// Command sysprobe issues one raw system call per argument, as an attacker in
// a container would, and prints "<name>: ok" when the kernel carried it out or
// "<name>: <ERRNO>" when it was refused. Garden's seccomp specs run it inside
// real containers. It is static (CGO_ENABLED=0) and needs nothing in the image.
//
// The calls that need a single-threaded process (unshare) or that would give
// the caller new namespaces (clone) run in a raw fork that exits at once and
// reports its errno as its exit status.
package main

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// probes maps a name to the call it makes; each returns the errno (0: done).
var probes = map[string]func() unix.Errno{
	"clone-newuser":        func() unix.Errno { return cloneWith(unix.CLONE_NEWUSER) },
	"clone-newuser-newns":  func() unix.Errno { return cloneWith(unix.CLONE_NEWUSER | unix.CLONE_NEWNS) },
	"clone-newuser-newnet": func() unix.Errno { return cloneWith(unix.CLONE_NEWUSER | unix.CLONE_NEWNET) },
	"clone-newuser-newpid": func() unix.Errno { return cloneWith(unix.CLONE_NEWUSER | unix.CLONE_NEWPID) },
	"clone-newuser-newuts": func() unix.Errno { return cloneWith(unix.CLONE_NEWUSER | unix.CLONE_NEWUTS) },
	"clone-newuser-newipc": func() unix.Errno { return cloneWith(unix.CLONE_NEWUSER | unix.CLONE_NEWIPC) },
	"clone-newuser-newcgroup": func() unix.Errno {
		return cloneWith(unix.CLONE_NEWUSER | unix.CLONE_NEWCGROUP)
	},
	"clone-plain":    func() unix.Errno { return cloneWith(0) },
	"clone3-newuser": func() unix.Errno { return clone3With(unix.CLONE_NEWUSER) },
	"clone3-plain":   func() unix.Errno { return clone3With(0) },
	"unshare-newuser": func() unix.Errno {
		return inFork(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0)
	},
	"unshare-newuser-newns": func() unix.Errno {
		return inFork(unix.SYS_UNSHARE, unix.CLONE_NEWUSER|unix.CLONE_NEWNS, 0)
	},
	// setns with a bad descriptor: EBADF if the kernel looked at it.
	"setns": func() unix.Errno { return raw(unix.SYS_SETNS, ^uintptr(0), 0, 0) },
	// A mount whose target cannot be read: EFAULT if the kernel looked at it.
	"mount": func() unix.Errno { return raw(unix.SYS_MOUNT, strPtr("none"), 1, strPtr("tmpfs")) },
	// Flags no kernel knows: EINVAL if the kernel looked at them.
	"umount2":    func() unix.Errno { return raw(unix.SYS_UMOUNT2, strPtr("/tmp"), 0x80000000, 0) },
	"pivot_root": func() unix.Errno { return raw(unix.SYS_PIVOT_ROOT, strPtr("/"), strPtr("/"), 0) },
	"io_uring_setup": func() unix.Errno {
		var params [120]byte
		return closeResult(unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0))
	},
	"io_uring_enter":    func() unix.Errno { return raw(unix.SYS_IO_URING_ENTER, ^uintptr(0), 0, 0) },
	"io_uring_register": func() unix.Errno { return raw(unix.SYS_IO_URING_REGISTER, ^uintptr(0), 0, 0) },
	"bpf": func() unix.Errno {
		// BPF_MAP_CREATE of a one-entry array map.
		attr := [18]uint32{unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1}
		return closeResult(unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr)))
	},
	"perf_event_open": func() unix.Errno {
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Bits: unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv}
		attr.Size = uint32(unsafe.Sizeof(attr))
		return closeResult(unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr)), 0, ^uintptr(0), ^uintptr(0), 0, 0))
	},
	"keyctl": func() unix.Errno {
		return raw(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, signed(unix.KEY_SPEC_SESSION_KEYRING), 1)
	},
	"add_key": func() unix.Errno {
		return raw5(unix.SYS_ADD_KEY, strPtr("user"), strPtr("probe"), strPtr("x"), 1, signed(unix.KEY_SPEC_PROCESS_KEYRING))
	},
	// ENOKEY if the kernel looked for it.
	"request_key": func() unix.Errno {
		return raw(unix.SYS_REQUEST_KEY, strPtr("user"), strPtr("no-such-key"), 0)
	},
	"userfaultfd": func() unix.Errno {
		return closeResult(unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|1 /* UFFD_USER_MODE_ONLY */, 0, 0))
	},
	"kexec_load":      func() unix.Errno { return raw(unix.SYS_KEXEC_LOAD, 0, 0, 0) },
	"kexec_file_load": func() unix.Errno { return raw5(unix.SYS_KEXEC_FILE_LOAD, ^uintptr(0), ^uintptr(0), 0, 0, 0) },
	"open_by_handle_at": func() unix.Errno {
		return raw(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0)
	},
	"init_module":   func() unix.Errno { return raw(unix.SYS_INIT_MODULE, 0, 0, strPtr("")) },
	"finit_module":  func() unix.Errno { return raw(unix.SYS_FINIT_MODULE, ^uintptr(0), strPtr(""), 0) },
	"delete_module": func() unix.Errno { return raw(unix.SYS_DELETE_MODULE, strPtr("no_such_module"), 0, 0) },
	// Controls: calls every program makes.
	"getpid": func() unix.Errno { return raw(unix.SYS_GETPID, 0, 0, 0) },
	"uname": func() unix.Errno {
		var u unix.Utsname
		return raw(unix.SYS_UNAME, uintptr(unsafe.Pointer(&u)), 0, 0)
	},
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sysprobe NAME...")
		os.Exit(2)
	}
	// One thread for the raw forks below.
	runtime.LockOSThread()
	for _, name := range os.Args[1:] {
		probe, ok := probes[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "sysprobe: no probe %q\n", name)
			os.Exit(2)
		}
		if errno := probe(); errno != 0 {
			fmt.Printf("%s: %s\n", name, unix.ErrnoName(errno))
		} else {
			fmt.Printf("%s: ok\n", name)
		}
	}
}

func raw(nr, a1, a2, a3 uintptr) unix.Errno {
	_, _, errno := unix.Syscall(nr, a1, a2, a3)
	return errno
}

func raw5(nr, a1, a2, a3, a4, a5 uintptr) unix.Errno {
	_, _, errno := unix.Syscall6(nr, a1, a2, a3, a4, a5, 0)
	return errno
}

// closeResult closes a descriptor a call returned.
func closeResult(fd, _ uintptr, errno unix.Errno) unix.Errno {
	if errno == 0 {
		unix.Close(int(fd))
	}
	return errno
}

// signed passes a negative int (a special key id) as an argument.
func signed(v int) uintptr { return uintptr(v) }

func strPtr(s string) uintptr {
	b, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(b))
}

// cloneWith forks with clone(2) and flags; the child exits at once.
func cloneWith(flags uintptr) unix.Errno {
	pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, flags|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	if pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return waitChild(int(pid))
}

// cloneArgs is struct clone_args as of clone3's first version.
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

func clone3With(flags uint64) unix.Errno {
	args := cloneArgs{flags: flags, exitSignal: uint64(unix.SIGCHLD)}
	pid, _, errno := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	if errno != 0 {
		return errno
	}
	if pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return waitChild(int(pid))
}

// inFork makes the call in a raw single-threaded fork, which exits with the
// call's errno.
func inFork(nr, a1, a2 uintptr) unix.Errno {
	pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	if pid == 0 {
		_, _, e := unix.RawSyscall(nr, a1, a2, 0)
		unix.RawSyscall(unix.SYS_EXIT_GROUP, uintptr(e), 0, 0)
	}
	return waitChild(int(pid))
}

func waitChild(pid int) unix.Errno {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "sysprobe: wait: %v\n", err)
			os.Exit(2)
		}
		return unix.Errno(ws.ExitStatus())
	}
}
