package linux

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"golang.org/x/sys/unix"
)

// Files move in and out of a container through its rootfs on the host, and
// garden does it as host root. The rootfs is a tree its tenant controls: the
// image chose its symlinks and a process inside can swap any entry for a
// symlink at any moment. A path garden resolved by name would follow such a
// link against the host's root. So every file operation here:
//
//   - resolves a path from a descriptor of the rootfs with
//     openat2(RESOLVE_IN_ROOT): a symlink on the way is read as if the rootfs
//     were "/", and ".." stops at it (inRoot);
//   - touches the last component with *at calls relative to its parent's
//     descriptor, never following it: mkdirat, symlinkat, linkat, unlinkat, and
//     openat2 with O_NOFOLLOW|RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS (openChild);
//   - sets owner, mode and times on an open descriptor, never by name;
//   - walks a directory by descriptor (stream-out): each child is opened from
//     its parent's descriptor, never re-resolved from the root, so a swap
//     inside cannot redirect the walk.
//
// StreamIn is in files_in.go, StreamOut in files_out.go.

const (
	// resolveInRoot resolves a whole path inside the rootfs.
	resolveInRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	// resolveChild resolves one name in a directory and follows nothing.
	resolveChild = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV
	// openat2Retries bounds the retries of an openat2 that a concurrent
	// rename made fail with EAGAIN.
	openat2Retries = 64
)

// openat2 retries EAGAIN, which RESOLVE_IN_ROOT and RESOLVE_BENEATH return
// when a rename raced with the resolution.
func openat2(dir int, p string, flags int, mode uint32, resolve uint64) (int, error) {
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: resolve}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dir, p, how)
		if errors.Is(err, unix.EAGAIN) && i < openat2Retries {
			continue
		}
		return fd, err
	}
}

// openRoot opens the rootfs itself: the descriptor every path starts from.
func openRoot(rootfs string) (int, error) {
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening rootfs %s: %w", rootfs, err)
	}
	return fd, nil
}

// inRoot opens p inside the rootfs open at root. A symlink on the way, the
// last component's included unless flags has O_NOFOLLOW, resolves inside it.
func inRoot(root int, p string, flags int) (int, error) {
	return openat2(root, relPath(p), flags, 0, resolveInRoot)
}

// openChild opens name, one component, in the directory dir, following no
// symlink: a symlink comes back as itself with O_PATH, else as ELOOP.
func openChild(dir int, name string, flags int) (int, error) {
	return openat2(dir, name, flags|unix.O_NOFOLLOW, 0, resolveChild)
}

// reopen opens again, with flags, the very inode that fd (often O_PATH) holds:
// no name is resolved, so nothing can have been swapped in between.
func reopen(fd int, flags int) (int, error) {
	return unix.Open("/proc/self/fd/"+strconv.Itoa(fd), flags|unix.O_CLOEXEC, 0)
}

// relPath makes p relative to the rootfs: "/a/../b" -> "b", "/" -> ".".
func relPath(p string) string {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		return "."
	}
	return rel
}

// closeFD closes a descriptor, logging a failure nobody else would see.
func closeFD(logger lager.Logger, fd int) {
	if err := unix.Close(fd); err != nil {
		logger.Error("close-failed", err, lager.Data{"fd": fd})
	}
}

// openInRoot opens p inside rootfs (a symlink at the end resolves inside it).
func openInRoot(rootfs, p string, flags int) (int, error) {
	root, err := openRoot(rootfs)
	if err != nil {
		return -1, err
	}
	defer unix.Close(root) //nolint:errcheck // an O_PATH descriptor: closing cannot fail in a way that matters
	return inRoot(root, p, flags)
}

// readInRoot reads up to 1 MiB of the regular file p inside rootfs. It never
// opens anything else for reading, so a FIFO in the image cannot block it.
func readInRoot(rootfs, p string) ([]byte, error) {
	fd, err := openInRoot(rootfs, p, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd) //nolint:errcheck // O_PATH
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	rfd, err := reopen(fd, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	f := os.NewFile(uintptr(rfd), p)
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

// idMap is how a container's uids and gids sit on the host: container id i is
// host id start+i for i < size. A privileged container has no user namespace
// and its map is the identity over every valid id.
type idMap struct {
	start, size int64
}

// maxID is the largest valid uid or gid; 2^32-1 means "unchanged" to chown.
const maxID = 1<<32 - 2

// ids is the container's id map: the one place that knows where it lives.
func (b *Backend) ids(c *container) idMap {
	if c.spec.Privileged {
		return idMap{start: 0, size: maxID + 1}
	}
	return idMap{start: int64(c.hostRoot), size: mappedUsersSize}
}

// toHost maps a container id to the host; ok is false for an id outside the
// map, which must be refused, never truncated nor passed through.
func (m idMap) toHost(id int) (int, bool) {
	if id < 0 || int64(id) >= m.size {
		return 0, false
	}
	return int(m.start + int64(id)), true
}

// toContainer maps a host id into the container; one outside the map shows as
// nobody, as it does inside.
func (m idMap) toContainer(id uint32) int {
	if int64(id) >= m.start && int64(id) < m.start+m.size {
		return int(int64(id) - m.start)
	}
	return 65534
}

// transferError gives an error of a stream its context and, for what the
// tar or the container's own content caused, the type InvalidSpec.
func transferError(op, handle, name string, err error) error {
	var gerr *garden.Error
	if errors.As(err, &gerr) {
		return err
	}
	for _, conflict := range []error{unix.ELOOP, unix.ENOTDIR, unix.EISDIR, unix.EEXIST, unix.ENOENT, unix.EXDEV, unix.EMLINK, unix.ENOTEMPTY, unix.ENAMETOOLONG} {
		if errors.Is(err, conflict) {
			return garden.NewInvalidSpecError("%s %s: %s: %v", op, handle, name, err)
		}
	}
	return fmt.Errorf("%s %s: %s: %w", op, handle, name, err)
}
