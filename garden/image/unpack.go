package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Whiteout markers of the image layer format (as written by docker and OCI
// tools), and the xattr overlayfs reads for an opaque directory.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
	overlayOpaque  = "trusted.overlay.opaque"
)

// extractor writes one layer's tar stream into a directory that becomes an
// overlay lower dir. Every path is resolved by the kernel *inside* the layer
// directory (openat2 RESOLVE_IN_ROOT) and every final component is handled with
// *at calls that do not follow symlinks, so no entry, however crafted, writes
// outside the layer.
type extractor struct {
	rootFD int
	ids    idShifter

	// The parent directory of the previous entry stays open: tars list a
	// directory's entries together.
	lastParent   string
	lastParentFD int

	dirTimes []dirTime // applied at the end: writing children changes them
}

type dirTime struct {
	name  string
	mtime time.Time
}

// unpackLayer extracts the tar stream r into dir, which must exist and be empty.
func unpackLayer(r io.Reader, dir string, ids idShifter) error {
	rootFD, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	e := &extractor{rootFD: rootFD, ids: ids, lastParentFD: -1}
	defer e.close()

	// The layer root is the container's "/" unless a later layer says otherwise.
	if err := e.setRootOwner(0, 0, 0o755); err != nil {
		return err
	}

	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
		if err := e.entry(hdr, tr); err != nil {
			return fmt.Errorf("extracting %q: %w", hdr.Name, err)
		}
	}
	return e.applyDirTimes()
}

func (e *extractor) close() {
	if e.lastParentFD >= 0 {
		unix.Close(e.lastParentFD)
	}
	unix.Close(e.rootFD)
}

// cleanName turns a tar entry name into a path relative to the layer root;
// "" is the root itself. ".." cannot climb above the root.
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (e *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name := cleanName(hdr.Name)
	mode := uint32(hdr.Mode) & 0o7777
	uid, gid := e.ids.uid(hdr.Uid), e.ids.gid(hdr.Gid)

	if name == "" {
		if hdr.Typeflag == tar.TypeDir {
			return e.setRootOwner(uid, gid, mode)
		}
		return nil
	}

	parent, base := path.Dir(name), path.Base(name)
	if parent == "." {
		parent = ""
	}

	switch {
	case base == whiteoutOpaque:
		pfd, err := e.parent(parent)
		if err != nil {
			return err
		}
		return unix.Fsetxattr(pfd, overlayOpaque, []byte("y"), 0)
	case strings.HasPrefix(base, whiteoutMeta):
		return nil // other aufs bookkeeping: nothing to keep
	case strings.HasPrefix(base, whiteoutPrefix):
		return e.whiteout(parent, strings.TrimPrefix(base, whiteoutPrefix))
	}

	pfd, err := e.parent(parent)
	if err != nil {
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := e.mkdir(pfd, base); err != nil {
			return err
		}
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return err
		}
		e.dirTimes = append(e.dirTimes, dirTime{name: name, mtime: hdr.ModTime})
		return nil

	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives still use TypeRegA
		if err := e.removeExisting(pfd, base); err != nil {
			return err
		}
		return writeFile(pfd, base, r, uid, gid, mode, hdr)

	case tar.TypeSymlink:
		if err := e.removeExisting(pfd, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		return setTimes(pfd, base, hdr)

	case tar.TypeLink:
		return e.hardlink(pfd, base, hdr.Linkname)

	case tar.TypeChar, tar.TypeBlock:
		if hdr.Typeflag == tar.TypeChar && hdr.Devmajor == 0 && hdr.Devminor == 0 {
			return e.whiteout(parent, base) // already in overlay's form
		}
		// Device nodes are skipped: runc gives every container its own /dev,
		// and a node elsewhere in an image is only a way around the device cgroup.
		return nil

	case tar.TypeFifo:
		if err := e.removeExisting(pfd, base); err != nil {
			return err
		}
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|mode, 0); err != nil {
			return err
		}
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		return setTimes(pfd, base, hdr)

	default:
		return nil // global headers and exotic types carry nothing a rootfs needs
	}
}

// whiteout records "name was deleted in this layer" the way overlayfs reads
// it: a 0/0 character device in place of the file.
func (e *extractor) whiteout(parent, name string) error {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("invalid whiteout for %q", name)
	}
	pfd, err := e.parent(parent)
	if err != nil {
		return err
	}
	if err := e.removeExisting(pfd, name); err != nil {
		return err
	}
	return unix.Mknodat(pfd, name, unix.S_IFCHR, 0)
}

func (e *extractor) hardlink(pfd int, base, linkname string) error {
	target := cleanName(linkname)
	if target == "" {
		return errors.New("hard link to the layer root")
	}
	tparent, tbase := path.Dir(target), path.Base(target)
	if tparent == "." {
		tparent = ""
	}
	tfd, err := e.openDir(tparent)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", linkname, err)
	}
	defer unix.Close(tfd)
	if err := e.removeExisting(pfd, base); err != nil {
		return err
	}
	return unix.Linkat(tfd, tbase, pfd, base, 0)
}

// parent returns an fd for the directory rel (relative to the root), creating
// missing directories. The fd is owned by the extractor.
func (e *extractor) parent(rel string) (int, error) {
	if rel == "" {
		return e.rootFD, nil
	}
	if e.lastParentFD >= 0 && e.lastParent == rel {
		return e.lastParentFD, nil
	}
	fd, err := e.openDir(rel)
	if errors.Is(err, unix.ENOENT) {
		if err := e.mkdirAll(rel); err != nil {
			return -1, err
		}
		fd, err = e.openDir(rel)
	}
	if err != nil {
		return -1, fmt.Errorf("opening directory %q: %w", rel, err)
	}
	e.forgetParent()
	e.lastParent, e.lastParentFD = rel, fd
	return fd, nil
}

func (e *extractor) forgetParent() {
	if e.lastParentFD >= 0 {
		unix.Close(e.lastParentFD)
	}
	e.lastParent, e.lastParentFD = "", -1
}

// openDir opens rel as if the layer root were "/": symlinks, "..", and
// absolute targets all stay inside.
func (e *extractor) openDir(rel string) (int, error) {
	if rel == "" {
		return unix.Dup(e.rootFD)
	}
	return unix.Openat2(e.rootFD, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// mkdirAll creates each missing directory of rel, owned by the container's root.
func (e *extractor) mkdirAll(rel string) error {
	parts := strings.Split(rel, "/")
	for i := range parts {
		pfd, err := e.openDir(strings.Join(parts[:i], "/"))
		if err != nil {
			return err
		}
		err = e.mkdir(pfd, parts[i])
		if err == nil {
			err = unix.Fchownat(pfd, parts[i], e.ids.uid(0), e.ids.gid(0), unix.AT_SYMLINK_NOFOLLOW)
		}
		unix.Close(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// mkdir makes base a directory, keeping an existing one (and its opaque
// xattr) and replacing anything else.
func (e *extractor) mkdir(pfd int, base string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil
	}
	if err == nil {
		if err := e.removeExisting(pfd, base); err != nil {
			return err
		}
	}
	return unix.Mkdirat(pfd, base, 0o755)
}

// removeExisting deletes whatever base is so an entry can take its place.
func (e *extractor) removeExisting(pfd int, base string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Unlinkat(pfd, base, 0)
	}
	// A directory replaced by a non-directory: remove the whole tree through
	// the parent fd, so no path outside the layer can be involved. The cached
	// parent may live inside that tree unless it is pfd itself.
	if e.lastParentFD != pfd {
		e.forgetParent()
	}
	return os.RemoveAll("/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base)
}

func (e *extractor) setRootOwner(uid, gid int, mode uint32) error {
	if err := unix.Fchown(e.rootFD, uid, gid); err != nil {
		return fmt.Errorf("chown layer root: %w", err)
	}
	return unix.Fchmod(e.rootFD, mode)
}

func (e *extractor) applyDirTimes() error {
	for i := len(e.dirTimes) - 1; i >= 0; i-- {
		dt := e.dirTimes[i]
		parent, base := path.Dir(dt.name), path.Base(dt.name)
		if parent == "." {
			parent = ""
		}
		pfd, err := e.openDir(parent)
		if err != nil {
			continue // replaced later in the layer: nothing to date
		}
		ts := unix.NsecToTimespec(dt.mtime.UnixNano())
		_ = unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
		unix.Close(pfd)
	}
	return nil
}

func writeFile(pfd int, base string, r io.Reader, uid, gid int, mode uint32, hdr *tar.Header) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	// chown before chmod: chown clears setuid and setgid bits.
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	ts := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	if err := unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return f.Close()
}

func setTimes(pfd int, base string, hdr *tar.Header) error {
	ts := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	return unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
