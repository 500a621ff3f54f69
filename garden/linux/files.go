package linux

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/diego-runtime/diego/garden"
	"golang.org/x/sys/unix"
)

// Files move in and out of a container through its rootfs on the host. Every
// path is resolved with openat2(RESOLVE_IN_ROOT), so a symlink in the image
// cannot lead outside the rootfs.

func openInRoot(rootfs, p string, flags int) (int, error) {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	return unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

func readInRoot(rootfs, p string) ([]byte, error) {
	fd, err := openInRoot(rootfs, p, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

// mkdirAllInRoot creates dir (and its parents) inside rootfs owned by uid/gid.
func mkdirAllInRoot(rootfs, dir string, uid, gid int) error {
	parts := strings.Split(strings.Trim(path.Clean("/"+dir), "/"), "/")
	cur := "/"
	for _, part := range parts {
		if part == "" {
			continue
		}
		parent, err := openInRoot(rootfs, cur, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("opening %s: %w", cur, err)
		}
		err = unix.Mkdirat(parent, part, 0o755)
		if err == nil {
			_ = unix.Fchownat(parent, part, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		unix.Close(parent)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("creating %s: %w", path.Join(cur, part), err)
		}
		cur = path.Join(cur, part)
	}
	return nil
}

// hostID shifts a container uid/gid to the host for unprivileged containers.
func (b *Backend) hostID(c *container, id int) int {
	if c.spec.Privileged || id < 0 || id >= mappedUsersSize {
		return id
	}
	return id + int(b.cfg.UIDMapStart)
}

func (b *Backend) containerID(c *container, id int) int {
	if c.spec.Privileged {
		return id
	}
	if id >= int(b.cfg.UIDMapStart) && id < int(b.cfg.UIDMapStart)+mappedUsersSize {
		return id - int(b.cfg.UIDMapStart)
	}
	return 65534 // nobody: not mapped into the container
}

// StreamIn unpacks a tar at dstPath, owned as the tar says (shifted into the
// container's user namespace).
func (b *Backend) StreamIn(ctx context.Context, handle, dstPath string, r io.Reader) error {
	c, err := b.lookup(handle)
	if err != nil {
		return err
	}
	if dstPath == "" {
		return garden.NewInvalidSpecError("stream-in needs a destination path")
	}
	rootUID := b.hostID(c, 0)
	if err := mkdirAllInRoot(c.rootfs, dstPath, rootUID, rootUID); err != nil {
		return fmt.Errorf("stream-in to %s: %w", handle, err)
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return garden.NewInvalidSpecError("stream-in to %s: reading tar: %v", handle, err)
		}
		if err := b.extract(c, dstPath, hdr, tr); err != nil {
			return fmt.Errorf("stream-in to %s: %s: %w", handle, hdr.Name, err)
		}
	}
}

func (b *Backend) extract(c *container, dst string, hdr *tar.Header, r io.Reader) error {
	target := path.Join("/", dst, path.Clean("/"+hdr.Name))
	dir, base := path.Split(target)
	if base == "" || base == "." || base == "/" {
		return nil
	}
	uid, gid := b.hostID(c, hdr.Uid), b.hostID(c, hdr.Gid)
	if err := mkdirAllInRoot(c.rootfs, dir, b.hostID(c, 0), b.hostID(c, 0)); err != nil {
		return err
	}
	pfd, err := openInRoot(c.rootfs, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	case tar.TypeReg:
		_ = unix.Unlinkat(pfd, base, 0)
		fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Chmod(fs.FileMode(mode & 0o777))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		_ = unix.Unlinkat(pfd, base, 0)
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
	case tar.TypeLink:
		src, err := openInRoot(c.rootfs, path.Join("/", dst, path.Clean("/"+hdr.Linkname)), unix.O_PATH)
		if err != nil {
			return err
		}
		defer unix.Close(src)
		_ = unix.Unlinkat(pfd, base, 0)
		return unix.Linkat(src, "", pfd, base, unix.AT_EMPTY_PATH)
	default:
		return nil // devices, fifos: not for containers to receive
	}
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// chown clears setuid bits; put the mode back.
		return unix.Fchmodat(pfd, base, mode, 0)
	}
	return nil
}

// StreamOut writes srcPath as a tar: a file as one entry, a directory as its
// name and its contents ("dir/." gives the contents only).
func (b *Backend) StreamOut(ctx context.Context, handle, srcPath string, w io.Writer) error {
	c, err := b.lookup(handle)
	if err != nil {
		return err
	}
	fd, err := openInRoot(c.rootfs, srcPath, unix.O_PATH)
	if err != nil {
		return garden.NewInvalidSpecError("stream-out from %s: %s: %v", handle, srcPath, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stream-out from %s: %w", handle, err)
	}
	prefix := path.Base(path.Clean("/" + srcPath))
	if strings.HasSuffix(srcPath, "/.") || prefix == "/" {
		prefix = ""
	}
	tw := tar.NewWriter(w)
	// The trailing slash makes the magic link resolve to the directory itself.
	base := fmt.Sprintf("/proc/self/fd/%d/", fd)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if prefix == "" {
			prefix = path.Base(srcPath)
		}
		err = b.writeEntry(c, tw, strings.TrimSuffix(base, "/"), prefix, true)
	} else {
		err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(base, p)
			name := path.Join(prefix, filepath.ToSlash(rel))
			if name == "." || name == "" {
				return nil
			}
			return b.writeEntry(c, tw, p, name, false)
		})
	}
	if err != nil {
		return fmt.Errorf("stream-out from %s: %w", handle, err)
	}
	return tw.Close()
}

// writeEntry adds p to the tar as name; follow stats through a magic link.
func (b *Backend) writeEntry(c *container, tw *tar.Writer, p, name string, follow bool) error {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	info, err := stat(p)
	if err != nil {
		return err
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = b.containerID(c, int(st.Uid)), b.containerID(c, int(st.Gid))
	}
	hdr.Uname, hdr.Gname = "", ""
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
