package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A container's writable layer lives on a file system of its own, its disk
// limit in size: a sparse file in the container's directory, formatted ext4
// and loop-mounted over that directory. Writes past the limit fail with
// ENOSPC inside the container, and the host file system gives the sparse file
// at most its size. The kernel frees the loop device when the file system is
// unmounted (util-linux sets autoclear), so Destroy and Cleanup need nothing
// beyond the unmount and the directory removal they already do.
//
// Why not a project quota on one shared file system: it needs the host's
// file system mounted with prjquota (ext4) or pquota (xfs) and a kernel with
// quota support, which ordinary hosts, and this project's test machines, do
// not all have; loop devices and ext4 are everywhere. See docs/garden.md.

// diskImage is the sparse file's name inside the container's directory; the
// mount hides it from everything but the loop device.
const diskImage = "disk.img"

// MinDiskBytes is the smallest limit a container's file system can have.
const MinDiskBytes = 16 << 20

// makeDisk formats a sparse file of size bytes in dir and mounts it over dir,
// keeping dir's mode and owner.
func makeDisk(ctx context.Context, dir string, size int64) error {
	if size < MinDiskBytes {
		return fmt.Errorf("disk limit %d bytes is below the %d MiB minimum", size, MinDiskBytes>>20)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	img := filepath.Join(dir, diskImage)
	f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating disk image: %w", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sizing disk image to %d bytes: %w", size, err)
	}
	// No journal (the layer does not outlive a crash: Cleanup removes it),
	// no reserved blocks, and no discard or inode table zeroing at format.
	if err := command(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal",
		"-E", "nodiscard,lazy_itable_init=1", img); err != nil {
		return err
	}
	if err := command(ctx, "mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noatime", img, dir); err != nil {
		return err
	}
	// From here the caller's cleanup unmounts dir (it lists mounts under it).
	if err := os.Chmod(dir, st.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, "lost+found")); err != nil {
		return fmt.Errorf("tidying the container's file system: %w", err)
	}
	return nil
}

func command(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CheckDiskLimits proves that containers' disk limits can be enforced on this
// machine: it makes, fills past its size and removes a small file system in a
// scratch directory under dir (dir/disk-check). An error says what is missing.
func CheckDiskLimits(ctx context.Context, dir string) (err error) {
	// A fixed name: a check cut short by a crash is cleared by the next.
	scratch := filepath.Join(dir, "disk-check")
	if err := unmount(scratch); err != nil {
		return fmt.Errorf("checking disk limits: %w", err)
	}
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("checking disk limits: %w", err)
	}
	if err := os.Mkdir(scratch, 0o700); err != nil {
		return fmt.Errorf("checking disk limits: %w", err)
	}
	defer func() {
		if uerr := unmount(scratch); uerr != nil && err == nil {
			err = uerr
		}
		if rerr := os.RemoveAll(scratch); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := makeDisk(ctx, scratch, MinDiskBytes); err != nil {
		return fmt.Errorf("checking disk limits (need loop devices, ext4 and mkfs.ext4): %w", err)
	}
	f, err := os.Create(filepath.Join(scratch, "fill"))
	if err != nil {
		return fmt.Errorf("checking disk limits: %w", err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := 0; i <= MinDiskBytes>>20; i++ {
		if _, err := f.Write(chunk); err != nil {
			return nil // the limit held
		}
	}
	return fmt.Errorf("checking disk limits: wrote %d MiB into a %d MiB file system", MinDiskBytes>>20+1, MinDiskBytes>>20)
}
