package image

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Host-path URIs (oci:///dir#tag, docker-archive:///file.tar) name files on
// the cell, which garden opens as root on behalf of whoever submitted the
// work. They are served only from below the operator's HostImagePaths, and
// only what is reached there without a symlink at any step: a layout is a
// directory holding directories and regular files, an archive a regular file.
// Everything else is refused with ErrHostPathRefused before a byte is read, so
// neither /dev/zero nor a fifo can hold a create.
//
// What is checked is the tree as it is at the check: the listed directories
// must be writable only by the operator (a writer there could swap a checked
// layout's blob for a symlink between the check and the read). Archives are
// re-checked on every open.

// hostPathDirs validates and cleans StoreConfig.HostImagePaths.
func hostPathDirs(dirs []string) ([]string, error) {
	clean := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("image host path %q must be an absolute path", d)
		}
		clean = append(clean, filepath.Clean(d))
	}
	return clean, nil
}

func refuseHostPath(uri, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrHostPathRefused, uri, fmt.Sprintf(format, args...))
}

// hostPathRoot finds the listed directory path is below and path's rest
// relative to it. path is already absolute; ".." is resolved lexically first,
// so it cannot climb out of the directory it names.
func (s *Store) hostPathRoot(uri, path string) (root, rel string, err error) {
	if len(s.hostPaths) == 0 {
		return "", "", refuseHostPath(uri, "this cell serves no host-path images (image_host_paths is empty)")
	}
	path = filepath.Clean(path)
	for _, dir := range s.hostPaths {
		if r, ok := strings.CutPrefix(path, strings.TrimSuffix(dir, "/")+"/"); ok && r != "" {
			return dir, r, nil
		}
	}
	return "", "", refuseHostPath(uri, "%s is not below a directory in image_host_paths", path)
}

// openHostPath opens path below its listed directory as an O_PATH descriptor
// (which reads nothing and cannot block), following no symlink on the way,
// and returns it with its type. A missing path is a *FetchError, a refused
// one ErrHostPathRefused.
func (s *Store) openHostPath(uri, path string) (int, uint32, error) {
	root, rel, err := s.hostPathRoot(uri, path)
	if err != nil {
		return -1, 0, err
	}
	rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, &FetchError{URI: uri, Reason: "opening image host path " + root, Err: err}
	}
	defer unix.Close(rootFD)
	fd, err := unix.Openat2(rootFD, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
		return -1, 0, &FetchError{URI: uri, Reason: "nothing at " + path, Err: err}
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
		return -1, 0, refuseHostPath(uri, "%s is reached through a symlink", path)
	case err != nil:
		return -1, 0, &FetchError{URI: uri, Reason: "opening " + path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, &FetchError{URI: uri, Reason: "stat " + path, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		return -1, 0, refuseHostPath(uri, "%s is a symlink", path)
	}
	return fd, st.Mode & unix.S_IFMT, nil
}

// openHostArchive opens a docker-archive:/// file for reading after checking
// it is a regular file below a listed directory. The file read is the inode
// that was checked: it is reopened through the O_PATH descriptor.
func (s *Store) openHostArchive(uri, path string) (*os.File, error) {
	fd, kind, err := s.openHostPath(uri, path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if kind != unix.S_IFREG {
		return nil, refuseHostPath(uri, "%s is not a regular file", path)
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_RDONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &FetchError{URI: uri, Reason: "opening docker archive " + path, Err: err}
	}
	return f, nil
}

// checkHostArchive is the check openHostArchive makes, without keeping the file.
func (s *Store) checkHostArchive(uri, path string) error {
	f, err := s.openHostArchive(uri, path)
	if err != nil {
		return err
	}
	return f.Close()
}

// archiveOpener is tarball's opener for a checked archive: every open checks again.
func (s *Store) archiveOpener(uri, path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return s.openHostArchive(uri, path) }
}

// checkHostLayout checks an oci:/// layout: a directory below a listed
// directory, reached without symlinks, holding only directories and regular
// files (no symlink, device or fifo a blob read could follow or block on).
func (s *Store) checkHostLayout(uri, path string) error {
	fd, kind, err := s.openHostPath(uri, path)
	if err != nil {
		return err
	}
	unix.Close(fd)
	if kind != unix.S_IFDIR {
		return refuseHostPath(uri, "%s is not a directory (an OCI layout)", path)
	}
	walkErr := filepath.WalkDir(filepath.Clean(path), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if t := d.Type(); t != 0 && !t.IsDir() {
			return refuseHostPath(uri, "%s in the layout is not a regular file or directory", p)
		}
		return nil
	})
	if errors.Is(walkErr, ErrHostPathRefused) {
		return walkErr
	}
	if walkErr != nil {
		return &FetchError{URI: uri, Reason: "reading OCI layout " + path, Err: walkErr}
	}
	return nil
}
