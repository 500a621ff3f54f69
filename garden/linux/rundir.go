package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// runDir holds what lives only as long as the containers: bundles and runc's
// state, on a tmpfs of garden's own. Every create writes a handful of small
// files there; on the host's file system their inode allocation alone was a
// visible share of a burst of creates.
func (b *Backend) runDir() string { return filepath.Join(b.cfg.StateDir, "run") }

// mountRunDir mounts the tmpfs unless it is there already (a garden killed
// earlier left it, with the state the cleanup of its containers needs).
func (b *Backend) mountRunDir() error {
	dir := b.runDir()
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	// No nosuid/nodev: runc remounts the bind mounts of hosts and resolv.conf
	// read-only from inside the user namespace, which may not drop a flag
	// the source's mount has.
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0711"); err != nil {
		return fmt.Errorf("mounting a tmpfs on %s: %w", dir, err)
	}
	return nil
}

func (b *Backend) unmountRunDir() error {
	err := unix.Unmount(b.runDir(), unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", b.runDir(), err)
}

// isMountPoint says whether dir is on another device than its parent.
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}
