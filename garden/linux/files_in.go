package linux

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"golang.org/x/sys/unix"
)

// StreamIn unpacks a tar at dstPath inside the container. dstPath, garden's
// client's choice, resolves inside the rootfs (its symlinks read as if the
// rootfs were "/") and is made, owned by the container's root, if missing.
// Each entry's name is taken below dstPath: a leading "/" is dropped, and a
// name that climbs above dstPath with ".." is refused, as is an owner outside
// the container's id map. An entry never follows a symlink at its own name:
// a file or symlink replaces what is there, a directory over an existing
// symlink keeps the link and changes nothing. Devices, FIFOs and sockets are
// skipped. Entries before a refused one stay unpacked.
func (b *Backend) StreamIn(ctx context.Context, handle, dstPath string, r io.Reader) error {
	c, err := b.lookup(handle)
	if err != nil {
		return err
	}
	if dstPath == "" {
		return garden.NewInvalidSpecError("stream-in needs a destination path")
	}
	logger := b.logger.Session("stream-in", lager.Data{"handle": handle, "path": dstPath})
	u, err := b.newUnpacker(logger, c)
	if err != nil {
		logger.Error("failed", err)
		return transferError("stream-in to", handle, dstPath, err)
	}
	defer u.close()
	dst, err := u.mkdirAll(dstPath)
	if err != nil {
		logger.Error("failed", err)
		return transferError("stream-in to", handle, dstPath, err)
	}
	closeFD(logger, dst)
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			logger.Debug("done", lager.Data{"entries": n})
			return nil
		}
		if err != nil {
			logger.Error("reading-tar-failed", err)
			return garden.NewInvalidSpecError("stream-in to %s: reading tar: %v", handle, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stream-in to %s: %w", handle, err)
		}
		if err := u.entry(dstPath, hdr, tr); err != nil {
			logger.Error("entry-failed", err, lager.Data{"entry": hdr.Name})
			return transferError("stream-in to", handle, hdr.Name, err)
		}
	}
}

// unpacker writes tar entries into one container's rootfs.
type unpacker struct {
	logger lager.Logger
	root   int // the rootfs, O_PATH
	ids    idMap
	rootID int // the container's root on the host: owner of directories it makes
}

func (b *Backend) newUnpacker(logger lager.Logger, c *container) (*unpacker, error) {
	root, err := openRoot(c.rootfs)
	if err != nil {
		return nil, err
	}
	ids := b.ids(c)
	rootID, _ := ids.toHost(0) // 0 is in every map
	return &unpacker{logger: logger, root: root, ids: ids, rootID: rootID}, nil
}

func (u *unpacker) close() { closeFD(u.logger, u.root) }

// entryName is a tar name relative to the destination, "" for the destination
// itself; a name that climbs above it is refused.
func entryName(name string) (string, error) {
	clean := path.Clean(strings.TrimLeft(name, "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", garden.NewInvalidSpecError("tar entry %q climbs out of the destination", name)
	}
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// owner maps the entry's uid and gid to the host, refusing ids the container
// does not have.
func (u *unpacker) owner(hdr *tar.Header) (int, int, error) {
	uid, ok := u.ids.toHost(hdr.Uid)
	if !ok {
		return 0, 0, garden.NewInvalidSpecError("tar entry %q: uid %d is outside the container's %d ids", hdr.Name, hdr.Uid, u.ids.size)
	}
	gid, ok := u.ids.toHost(hdr.Gid)
	if !ok {
		return 0, 0, garden.NewInvalidSpecError("tar entry %q: gid %d is outside the container's %d ids", hdr.Name, hdr.Gid, u.ids.size)
	}
	return uid, gid, nil
}

func (u *unpacker) entry(dst string, hdr *tar.Header, r io.Reader) error {
	name, err := entryName(hdr.Name)
	if err != nil || name == "" {
		return err
	}
	uid, gid, err := u.owner(hdr)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		u.logger.Info("skipped", lager.Data{"entry": hdr.Name, "type": string(hdr.Typeflag)})
		return nil
	}
	parent, err := u.mkdirAll(path.Join(dst, path.Dir(name)))
	if err != nil {
		return err
	}
	defer closeFD(u.logger, parent)
	base := path.Base(name)
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(parent, base, uid, gid, mode, hdr.ModTime)
	case tar.TypeReg:
		return u.file(parent, base, uid, gid, mode, hdr.ModTime, r)
	case tar.TypeSymlink:
		return u.symlink(parent, base, hdr.Linkname, uid, gid)
	default:
		return u.hardlink(dst, parent, base, hdr.Linkname)
	}
}

// mkdirAll opens the directory p inside the rootfs, making what is missing of
// it owned by the container's root. The returned descriptor is O_PATH.
func (u *unpacker) mkdirAll(p string) (int, error) {
	fd, err := inRoot(u.root, p, unix.O_PATH|unix.O_DIRECTORY)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	cur, err := inRoot(u.root, ".", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	creating := false
	comps := strings.Split(relPath(p), "/")
	for i, comp := range comps {
		if !creating {
			// Each prefix resolves from the root, so its symlinks resolve
			// inside the rootfs, not inside the last directory.
			next, err := inRoot(u.root, path.Join(comps[:i+1]...), unix.O_PATH|unix.O_DIRECTORY)
			if err == nil {
				closeFD(u.logger, cur)
				cur = next
				continue
			}
			if !errors.Is(err, unix.ENOENT) {
				closeFD(u.logger, cur)
				return -1, err
			}
			creating = true
		}
		// From here on every component is made beneath the last, and a
		// symlink put in the way fails the open with ELOOP.
		next, err := u.mkdir(cur, comp)
		closeFD(u.logger, cur)
		if err != nil {
			return -1, fmt.Errorf("making %s in %s: %w", comp, p, err)
		}
		cur = next
	}
	return cur, nil
}

// mkdir makes name in dir (0755, the container's root) unless it is a
// directory already, and opens it without following it.
func (u *unpacker) mkdir(dir int, name string) (int, error) {
	made := true
	if err := unix.Mkdirat(dir, name, 0o700); errors.Is(err, unix.EEXIST) {
		made = false
	} else if err != nil {
		return -1, err
	}
	fd, err := openChild(dir, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	if made {
		if err := setMeta(fd, u.rootID, u.rootID, 0o755, time.Time{}); err != nil {
			closeFD(u.logger, fd)
			return -1, err
		}
	}
	return fd, nil
}

// dir makes or updates the directory name. Over an existing symlink it keeps
// the link and changes nothing: applying the entry would mean following it.
func (u *unpacker) dir(parent int, name string, uid, gid int, mode uint32, mtime time.Time) error {
	if err := unix.Mkdirat(parent, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	fd, err := openChild(parent, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		if u.isSymlink(parent, name) {
			u.logger.Info("kept-symlink", lager.Data{"entry": name})
			return nil
		}
	}
	if err != nil {
		return err
	}
	defer closeFD(u.logger, fd)
	return setMeta(fd, uid, gid, mode, mtime)
}

// isSymlink says whether name in dir is a symlink (itself, not followed).
func (u *unpacker) isSymlink(dir int, name string) bool {
	fd, err := openChild(dir, name, unix.O_PATH)
	if err != nil {
		return false
	}
	defer closeFD(u.logger, fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// file replaces name with a new regular file holding r.
func (u *unpacker) file(parent int, name string, uid, gid int, mode uint32, mtime time.Time, r io.Reader) error {
	if err := unix.Unlinkat(parent, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replacing: %w", err)
	}
	fd, err := openat2(parent, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600, resolveChild)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing: %w", err)
	}
	if err := setMeta(int(f.Fd()), uid, gid, mode, mtime); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// symlink replaces name with a link to target. The target is stored as it
// is: garden never follows it, and inside the container it means what it
// says there.
func (u *unpacker) symlink(parent int, name, target string, uid, gid int) error {
	if err := unix.Unlinkat(parent, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replacing: %w", err)
	}
	if err := unix.Symlinkat(target, parent, name); err != nil {
		return err
	}
	fd, err := openChild(parent, name, unix.O_PATH)
	if err != nil {
		return err
	}
	defer closeFD(u.logger, fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return fmt.Errorf("symlink replaced while made: %w", unix.EEXIST)
	}
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

// hardlink replaces name with a hard link to the entry source, a tar name
// below dst like any other: its directories resolve inside the rootfs and
// the entry itself is linked, a symlink as the symlink. Linking a directory,
// or anything on another file system, is refused by the kernel.
func (u *unpacker) hardlink(dst string, parent int, name, source string) error {
	src, err := entryName(source)
	if err != nil {
		return err
	}
	if src == "" {
		return garden.NewInvalidSpecError("tar hard link %q to the destination itself", name)
	}
	sdir, err := inRoot(u.root, path.Join(dst, path.Dir(src)), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("hard link source %s: %w", source, err)
	}
	defer closeFD(u.logger, sdir)
	sfd, err := openChild(sdir, path.Base(src), unix.O_PATH)
	if err != nil {
		return fmt.Errorf("hard link source %s: %w", source, err)
	}
	defer closeFD(u.logger, sfd)
	if err := unix.Unlinkat(parent, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replacing: %w", err)
	}
	return unix.Linkat(sfd, "", parent, name, unix.AT_EMPTY_PATH)
}

// setMeta sets owner, then mode (a chown clears set-id bits), then the
// modification time, all on the descriptor.
func setMeta(fd, uid, gid int, mode uint32, mtime time.Time) error {
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if mtime.IsZero() {
		return nil
	}
	tv := unix.NsecToTimeval(mtime.UnixNano())
	if err := unix.Futimes(fd, []unix.Timeval{tv, tv}); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}
