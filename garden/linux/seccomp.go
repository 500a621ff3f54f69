package linux

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Seccomp: an allow list. Garden starts from Docker's default profile (the
// github.com/moby/profiles/seccomp library), resolved for the capabilities
// garden gives container root (defaultCaps: no CAP_SYS_ADMIN, so Docker's
// rules keep clone from making namespaces and answer clone3 with ENOSYS, which
// makes libc fall back to clone) and for this kernel and architecture. Any
// call not allowed fails with EPERM.
//
// On top of Docker's, garden refuses refusedSyscalls in every container,
// whatever a capability rule would allow, and ptrace and the
// process_vm calls in unprivileged ones: garden-init runs under the same uid
// as the workload, and a tracer could take over its socket to garden.
//
// Privileged containers (real root, no user namespace, the same capabilities)
// keep a looser profile: they may also make namespaces (clone with any flags,
// clone3, unshare, setns) so that sandboxing tools work inside them, and may
// ptrace their own processes as Docker allows.

// refusedSyscalls reach past the container: mounts, io_uring (a second path
// to most calls, unfiltered), bpf, perf, keyrings (not namespaced), user
// faults, kexec, kernel modules and file handles.
var refusedSyscalls = []string{
	"mount", "umount", "umount2", "pivot_root", "mount_setattr", "move_mount",
	"open_tree", "fsopen", "fsmount", "fsconfig", "fspick",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"bpf", "perf_event_open",
	"keyctl", "add_key", "request_key",
	"userfaultfd",
	"kexec_load", "kexec_file_load",
	"open_by_handle_at", "name_to_handle_at",
	"init_module", "finit_module", "delete_module", "create_module",
}

// unprivilegedRefused are refused only in unprivileged containers.
var unprivilegedRefused = []string{"unshare", "setns", "ptrace", "process_vm_readv", "process_vm_writev"}

// privilegedAllowed are added to a privileged container's allow list.
var privilegedAllowed = []string{"clone", "clone3", "unshare", "setns"}

// nativeArch is the one architecture whose calls the filter lets through.
// Docker's profile also lists the compat ones (x86 and x32 on amd64, arm on
// arm64); each one more makes libseccomp compile the whole list again in
// every runc run: with all three, runc run took 82 ms at the median against
// 56 ms with the native one (and 58 ms with garden's old deny list). So 32-bit
// calls are refused, and 32-bit programs do not run in garden's containers.
var nativeArch = map[string]string{
	"amd64": string(specs.ArchX86_64),
	"arm64": string(specs.ArchAARCH64),
}

// seccompProfiles resolves both profiles once per process: they depend only
// on defaultCaps, the kernel and the architecture.
var seccompProfiles = sync.OnceValues(func() (map[bool]*ociSeccomp, error) {
	out := map[bool]*ociSeccomp{}
	for _, privileged := range []bool{false, true} {
		p, err := buildSeccomp(privileged)
		if err != nil {
			return nil, err
		}
		out[privileged] = p
	}
	return out, nil
})

// seccompFor returns the profile for a container.
func seccompFor(privileged bool) (*ociSeccomp, error) {
	profiles, err := seccompProfiles()
	if err != nil {
		return nil, err
	}
	return profiles[privileged], nil
}

func buildSeccomp(privileged bool) (*ociSeccomp, error) {
	docker, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: defaultCaps},
	}})
	if err != nil {
		return nil, fmt.Errorf("resolving the default seccomp profile: %w", err)
	}
	refused := refusedSyscalls
	if !privileged {
		refused = append(slices.Clone(refused), unprivilegedRefused...)
	}
	out := &ociSeccomp{
		DefaultAction:   string(docker.DefaultAction),
		DefaultErrnoRet: docker.DefaultErrnoRet,
	}
	if native, ok := nativeArch[runtime.GOARCH]; ok {
		out.Architectures = []string{native}
	} else {
		for _, a := range docker.Architectures {
			out.Architectures = append(out.Architectures, string(a))
		}
	}
	for _, rule := range docker.Syscalls {
		if privileged && rule.Action != specs.ActAllow {
			// Docker's refusals that privilegedAllowed lifts (clone3).
			rule.Names = slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return slices.Contains(privilegedAllowed, n) })
		}
		if rule.Action == specs.ActAllow {
			rule.Names = slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return slices.Contains(refused, n) })
		}
		if len(rule.Names) == 0 {
			continue
		}
		out.Syscalls = append(out.Syscalls, convertRule(rule))
	}
	if privileged {
		out.Syscalls = append(out.Syscalls, ociSyscallRule{Names: privilegedAllowed, Action: string(specs.ActAllow)})
	}
	// Said explicitly, so that no later allow rule can let them through.
	eperm := uint(1)
	out.Syscalls = append(out.Syscalls, ociSyscallRule{Names: refused, Action: string(specs.ActErrno), ErrnoRet: &eperm})
	return out, nil
}

func convertRule(r specs.LinuxSyscall) ociSyscallRule {
	out := ociSyscallRule{Names: r.Names, Action: string(r.Action), ErrnoRet: r.ErrnoRet}
	for _, a := range r.Args {
		out.Args = append(out.Args, ociSeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: string(a.Op)})
	}
	return out
}
