package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Per-container id ranges over shared layers. The layers are unpacked once,
// owned by the base range (Spec.UIDMappings' host ids), and every container
// that uses them sees them through idmapped clones: open_tree(OPEN_TREE_CLONE)
// makes a detached bind mount of the layer, mount_setattr(MOUNT_ATTR_IDMAP)
// gives it the container's user namespace mapping (base range -> container's
// range), and move_mount attaches it at <container dir>/l/<i>, which the
// overlay then uses as its lower dir. An overlay mount cannot itself be
// idmapped (EINVAL on 6.18), but overlay honours its lower dirs' mappings.
// Nothing is copied or chowned per container.

// idmappedDir holds a container's idmapped layer clones: short, so the overlay
// options stay short, and shorter than "rootfs", so that removeContainer
// (deepest path first) unmounts the overlay before the layers under it.
const idmappedDir = "l"

// IDIsolation gives one container its own host id range over the shared
// layers.
type IDIsolation struct {
	// UserNS is a user namespace whose mapping takes the layers' owners (the
	// base range, Spec.UIDMappings' and GIDMappings' host ids) to the
	// container's range. The caller keeps it open; the store only borrows it
	// for the mounts.
	UserNS *os.File
	// RootUID and RootGID are the host ids of the container's root, the owner
	// of its directory and its upper dir.
	RootUID, RootGID uint32
}

// ErrIDMapUnsupported is wrapped by CheckIDMapping's error when the store's
// file system cannot be idmapped.
var ErrIDMapUnsupported = errors.New("file system cannot be idmapped")

// mountIDMapped attaches an idmapped, read-only clone of each lower below
// dir/l and returns their paths, in the same order.
func mountIDMapped(lowers []string, dir string, userns *os.File) ([]string, error) {
	base := filepath.Join(dir, idmappedDir)
	if err := os.Mkdir(base, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", base, err)
	}
	out := make([]string, len(lowers))
	for i, lower := range lowers {
		target := filepath.Join(base, strconv.Itoa(i))
		if err := os.Mkdir(target, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", target, err)
		}
		if err := attachIDMapped(lower, target, userns); err != nil {
			return nil, err
		}
		out[i] = target
	}
	return out, nil
}

// attachIDMapped clones the mount of src (src's subtree only), idmaps it
// through userns, makes it read-only, nosuid and nodev, and attaches it at
// target.
func attachIDMapped(src, target string, userns *os.File) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", src, err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{
		Attr_set:  unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
		Userns_fd: uint64(userns.Fd()),
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("idmapping %s (mount_setattr): %w", src, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching idmapped %s at %s (move_mount): %w", src, target, err)
	}
	return nil
}

// CheckIDMapping proves that the store's layer cache can be idmapped through
// userns: it idmaps a clone of the layers directory, without attaching it.
// An error wraps ErrIDMapUnsupported and names the directory.
func (s *Store) CheckIDMapping(userns *os.File) error {
	return checkIDMapping(s.layersDir, userns)
}

func checkIDMapping(dir string, userns *os.File) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("%s: %w: open_tree: %w", dir, ErrIDMapUnsupported, err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		var st unix.Statfs_t
		fsType := "unknown"
		if unix.Statfs(dir, &st) == nil {
			fsType = fmt.Sprintf("0x%x", st.Type)
		}
		return fmt.Errorf("%s (file system type %s): %w: mount_setattr(MOUNT_ATTR_IDMAP): %w", dir, fsType, ErrIDMapUnsupported, err)
	}
	return nil
}
