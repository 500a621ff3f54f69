// Package reach answers one question before a garden (or `diego up`) starts:
// can a container's root, an unprivileged host uid once a user namespace maps
// it, search its way to the directories runc mounts the container from? runc
// bind-mounts the rootfs from inside the container's user namespace, so a
// single directory on the way that the mapped uid may not search (a parent
// made by `mktemp -d`, /root) makes every container fail long after start.
//
// The check reads mode bits and owners only: a POSIX ACL that grants search
// where the mode bits do not is not seen, and the check refuses such a path.
package reach

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Identity is a host uid and gid whose access is checked: for a user
// namespace, the host ids that container root maps to.
type Identity struct {
	UID, GID uint32
}

// BlockedError says which directory stops an identity on its way to Path.
type BlockedError struct {
	Path     string      // the directory the containers need
	Dir      string      // the first directory on the way that Who may not search
	Mode     fs.FileMode // Dir's permission bits
	UID, GID uint32      // Dir's owner and group
	Who      Identity
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("containers cannot reach %s: %s (mode %04o, owner %d:%d) does not let host uid %d (a container's root) search it; fix: 'chmod %s %s'",
		e.Path, e.Dir, e.Mode.Perm(), e.UID, e.GID, e.Who.UID, e.fix(), e.Dir)
}

// fix is the least chmod that lets Who through, following which class of
// the mode bits applies to it.
func (e *BlockedError) fix() string {
	switch {
	case e.UID == e.Who.UID:
		return "u+x"
	case e.GID == e.Who.GID:
		return "g+x"
	}
	return "o+x"
}

// CanSearch says whether who may search a directory of the given mode,
// owner and group. As the kernel does, only the first class that matches
// counts: an owner without the owner's x bit is refused even if others have
// theirs. Host root (uid 0) may search anything.
func CanSearch(mode fs.FileMode, uid, gid uint32, who Identity) bool {
	perm := mode.Perm()
	switch {
	case who.UID == 0:
		return true
	case uid == who.UID:
		return perm&0o100 != 0
	case gid == who.GID:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}

// Check walks every directory from / down to path (symbolic links resolved)
// and returns a *BlockedError for the first that one of who may not search.
// Path itself counts: it has to be searched to reach what is inside. Parts
// of path that do not exist yet end the walk: whoever creates them picks
// their mode (see MkdirAll).
func Check(path string, who ...Identity) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("reach: %q is not an absolute path", path)
	}
	path = filepath.Clean(path)
	resolved, err := resolveExisting(path)
	if err != nil {
		return err
	}
	for _, dir := range ancestry(resolved) {
		st, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reach: %w", err)
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("reach: no owner for %s", dir)
		}
		for _, id := range who {
			if !CanSearch(st.Mode(), sys.Uid, sys.Gid, id) {
				return &BlockedError{Path: path, Dir: dir, Mode: st.Mode(), UID: sys.Uid, GID: sys.Gid, Who: id}
			}
		}
	}
	return nil
}

// MkdirAll creates path and any missing parent with exactly mode, whatever
// the umask, and leaves directories that exist as they are.
func MkdirAll(path string, mode fs.FileMode) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("reach: %q is not an absolute path", path)
	}
	for _, dir := range ancestry(filepath.Clean(path)) {
		err := os.Mkdir(dir, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	return nil
}

// resolveExisting resolves the symbolic links in the longest existing
// prefix of path and appends the rest unchanged.
func resolveExisting(path string) (string, error) {
	rest := ""
	for p := path; ; p = filepath.Dir(p) {
		resolved, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(resolved, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reach: %w", err)
		}
		if p == "/" {
			return path, nil
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// ancestry lists "/", "/a", "/a/b", ... down to path.
func ancestry(path string) []string {
	out := []string{"/"}
	cur := "/"
	for _, part := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		out = append(out, cur)
	}
	return out
}
