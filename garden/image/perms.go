package image

import (
	"fmt"
	"os"
	"path/filepath"
)

// Who may reach what in the store. A privileged image's setuid-root binary
// sits in its cached layer, in every rootfs made from it, and a privileged
// container can leave new ones in its upper dir: no other host user may reach
// any of them. But an unprivileged container's root (an unprivileged host
// uid) must search its way to its own rootfs, because runc bind-mounts it
// from inside the user namespace. So:
//
//	<Dir>                     0711  containers' roots pass through, nobody lists
//	<Dir>/containers          0711  the same
//	<Dir>/containers/<handle> 0700  owned by that container's root (host root
//	                                for a privileged one): only it passes
//	  rootfs 0755, upper 0755 (the container's "/", its root's), work 0700
//	  l 0700 (host root): the idmapped layer clones of a container with
//	  its own id range (idmount.go)
//	<Dir>/layers              0700  host root only
//
// The layers need no search permission for containers: overlayfs looks up and
// opens lower (and upper) files with the credentials of whoever mounted it,
// garden as host root, whatever process asks. Every rootfs is also mounted
// nosuid and nodev (mount.go), so a setuid binary or device node reached
// through it gives nothing; inside containers setuid has no effect anyway
// (runc runs every process with no_new_privs).
const (
	storeDirMode     = 0o711
	layersDirMode    = 0o700
	containerDirMode = 0o700
	upperDirMode     = 0o755
	workDirMode      = 0o700
	rootfsDirMode    = 0o755
)

// makeDirs creates the store's directories, and sets their modes whatever
// an older garden or the umask left.
func (s *Store) makeDirs() error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{s.dir, storeDirMode},
		{s.containersDir, storeDirMode},
		{s.layersDir, layersDirMode},
		{filepath.Join(s.layersDir, emptyLayer), 0o755},
	} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("creating image store: %w", err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return fmt.Errorf("creating image store: %w", err)
		}
	}
	return nil
}

// owner is the host identity of a container's root.
type owner struct{ uid, gid int }

func ownerOf(iso *IDIsolation) owner { return owner{uid: int(iso.RootUID), gid: int(iso.RootGID)} }

// makeContainerDirs fills a container's directory (made 0700 by Create) and
// hands it and the upper dir, the merged "/", to the container's root.
func makeContainerDirs(p containerPaths, root owner) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{p.upper, upperDirMode}, {p.work, workDirMode}, {p.rootfs, rootfsDirMode}} {
		if err := os.Mkdir(d.path, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(d.path, d.mode); err != nil { // whatever the umask
			return err
		}
	}
	for _, d := range []string{p.dir, p.upper} {
		if err := os.Chown(d, root.uid, root.gid); err != nil {
			return err
		}
	}
	return os.Chmod(p.dir, containerDirMode)
}
