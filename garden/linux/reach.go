package linux

import (
	"fmt"
	"path/filepath"

	"github.com/diego-runtime/diego/garden/reach"
)

// ContainerRoot is the host identity an unprivileged container's root maps
// to. runc mounts the rootfs from inside the user namespace, as this
// identity, so it must be able to search every directory down to the state
// dir and the image store.
// With per-container ranges it is the first range's root; whichever range,
// it owns nothing on the way, so what one may search all may.
func (c Config) ContainerRoot() reach.Identity {
	if c.UIDIsolation == UIDIsolationShared {
		return reach.Identity{UID: c.UIDMapStart, GID: c.UIDMapStart}
	}
	first := c.UIDMapStart + idMapSize
	return reach.Identity{UID: first, GID: first}
}

// prepareReachable creates dir and its missing parents searchable by
// everyone (0755, whatever the umask), then refuses, naming the directory
// and the fix, if something above it keeps a container's root out. Without
// this check garden started fine and every container then failed in runc
// with a mount error that named neither.
func prepareReachable(what, dir string, who reach.Identity) error {
	if err := reach.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := reach.Check(dir, who); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// prepareImageStoreParent readies the image store's parent: the store
// itself makes its own directory.
func prepareImageStoreParent(cfg DaemonConfig) error {
	return prepareReachable("garden image_store_dir", filepath.Dir(cfg.ImageStoreDir), cfg.ContainerRoot())
}
