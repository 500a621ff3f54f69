package linux

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"golang.org/x/sys/unix"
)

// StreamOut writes srcPath as a tar: a file as one entry, a directory as its
// name and its contents ("dir/." gives the contents only). srcPath, garden's
// client's choice, resolves inside the rootfs, a symlink at its end included.
// Below it nothing is followed: the walk opens each child from its parent's
// descriptor with O_NOFOLLOW, a symlink goes into the tar as a link, and
// file content is read from the inode the walk opened, so a process inside
// that swaps a directory for a symlink while garden reads it cannot lead the
// walk out of the rootfs. Owners are the container's ids (nobody for a host
// id outside its map); sockets are left out.
func (b *Backend) StreamOut(ctx context.Context, handle, srcPath string, w io.Writer) error {
	c, err := b.lookup(handle)
	if err != nil {
		return err
	}
	logger := b.logger.Session("stream-out", lager.Data{"handle": handle, "path": srcPath})
	root, err := openRoot(c.rootfs)
	if err != nil {
		logger.Error("failed", err)
		return fmt.Errorf("stream-out from %s: %w", handle, err)
	}
	defer closeFD(logger, root)
	src, err := inRoot(root, srcPath, unix.O_PATH)
	if err != nil {
		return garden.NewInvalidSpecError("stream-out from %s: %s: %v", handle, srcPath, err)
	}
	defer closeFD(logger, src)

	name := path.Base(path.Clean("/" + srcPath))
	if strings.HasSuffix(srcPath, "/.") || name == "/" {
		name = "" // the directory's contents only
	}
	wk := &walker{ctx: ctx, logger: logger, tw: tar.NewWriter(w), ids: b.ids(c)}
	if err := wk.node(src, name); err != nil {
		logger.Error("failed", err)
		return transferError("stream-out from", handle, srcPath, err)
	}
	if err := wk.tw.Close(); err != nil {
		return fmt.Errorf("stream-out from %s: %w", handle, err)
	}
	return nil
}

// walker writes a tree to a tar by descriptor.
type walker struct {
	ctx    context.Context
	logger lager.Logger
	tw     *tar.Writer
	ids    idMap
}

// node writes the entry fd (an O_PATH descriptor that may be a symlink) as
// name, and a directory's children after it.
func (wk *walker) node(fd int, name string) error {
	if err := wk.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     wk.ids.toContainer(st.Uid),
		Gid:     wk.ids.toContainer(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).Truncate(time.Second),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return wk.dir(fd, hdr)
	case unix.S_IFREG:
		return wk.file(fd, hdr, st.Size)
	case unix.S_IFLNK:
		link, err := readlink(fd)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, link
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	default:
		wk.logger.Debug("skipped", lager.Data{"entry": name, "mode": st.Mode})
		return nil
	}
	if hdr.Name == "" { // a single non-directory named "x/."
		return nil
	}
	return wk.tw.WriteHeader(hdr)
}

// dir writes the directory's header, then each child, opened from this
// directory's descriptor without following it.
func (wk *walker) dir(fd int, hdr *tar.Header) error {
	if hdr.Name != "" {
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		if err := wk.tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	dfd, err := reopen(fd, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("opening %s: %w", hdr.Name, err)
	}
	d := os.NewFile(uintptr(dfd), hdr.Name)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("reading %s: %w", hdr.Name, err)
	}
	sort.Strings(names)
	for _, n := range names {
		cfd, err := openChild(dfd, n, unix.O_PATH)
		if errors.Is(err, unix.ENOENT) {
			continue // gone since the directory was read
		}
		if err != nil {
			return fmt.Errorf("opening %s: %w", path.Join(hdr.Name, n), err)
		}
		err = wk.node(cfd, path.Join(hdr.Name, n))
		closeFD(wk.logger, cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// file writes the regular file's header and size bytes of its content, read
// from the inode fd holds.
func (wk *walker) file(fd int, hdr *tar.Header, size int64) error {
	rfd, err := reopen(fd, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("opening %s: %w", hdr.Name, err)
	}
	f := os.NewFile(uintptr(rfd), hdr.Name)
	defer f.Close()
	hdr.Typeflag, hdr.Size = tar.TypeReg, size
	if err := wk.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyN(wk.tw, f, size)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading %s: %w", hdr.Name, err)
	}
	if n < size {
		return fmt.Errorf("%s shrank while read (%d of %d bytes)", hdr.Name, n, size)
	}
	return nil
}

// readlink reads the target of the symlink fd holds (O_PATH|O_NOFOLLOW).
func readlink(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
