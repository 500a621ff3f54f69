package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"
)

// A container's writable layer lives on a file system of its own, its disk
// limit in size: a sparse file in the container's directory, formatted ext4
// and loop-mounted over that directory. Writes past the limit fail with
// ENOSPC inside the container, and the host file system gives the sparse file
// at most its size. The kernel frees the loop device when the file system is
// unmounted (the loop device is attached auto-clearing), so Destroy and Cleanup need nothing
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

// loFlagsAutoclear detaches a loop device when its last user (the mount)
// goes (linux/loop.h).
const loFlagsAutoclear = 4

// disks formats one empty file system per size and copies it, holes kept,
// for each container: a copy of the few hundred KB a fresh ext4 holds is
// far cheaper than mkfs on every create.
type disks struct {
	dir      string // templates: <dir>/<size>.img
	building singleflight.Group
}

// makeDisk gives dir a file system of its own, size bytes, mounted over it
// with dir's mode; the sparse file backing it is dir/disk.img underneath.
// On error the caller unmounts dir (it lists the mounts under it).
func (d *disks) makeDisk(ctx context.Context, dir string, size int64) error {
	if size < MinDiskBytes {
		return fmt.Errorf("disk limit %d bytes is below the %d MiB minimum", size, MinDiskBytes>>20)
	}
	tmpl, err := d.template(ctx, size)
	if err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	img, err := os.OpenFile(filepath.Join(dir, diskImage), os.O_CREATE|os.O_EXCL|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating disk image: %w", err)
	}
	defer img.Close() // the loop device holds its own reference
	if err := copySparse(tmpl, img, size); err != nil {
		return fmt.Errorf("copying disk image: %w", err)
	}
	if err := mountLoop(img, dir); err != nil {
		return err
	}
	if err := os.Chmod(dir, st.Mode().Perm()); err != nil {
		return err
	}
	return nil
}

// template returns the path of an empty file system of size bytes, making it
// the first time.
func (d *disks) template(ctx context.Context, size int64) (string, error) {
	path := filepath.Join(d.dir, strconv.FormatInt(size, 10)+".img")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	_, err, _ := d.building.Do(path, func() (any, error) {
		if _, err := os.Stat(path); err == nil {
			return nil, nil
		}
		if err := os.MkdirAll(d.dir, 0o700); err != nil {
			return nil, err
		}
		tmp := path + ".tmp" // a build cut short by a crash is redone
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing a stale disk template: %w", err)
		}
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		err = f.Truncate(size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			// No journal (a layer does not outlive a crash: Cleanup removes
			// it), no reserved blocks or resize reserve, one inode per 32 KiB,
			// metadata packed at the start, nothing zeroed or discarded.
			err = command(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", "-i", "32768",
				"-O", "^has_journal,^resize_inode", "-E", "nodiscard,lazy_itable_init=1,packed_meta_blocks=1", tmp)
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
			return nil, fmt.Errorf("formatting a %d MiB file system: %w", size>>20, err)
		}
		return nil, nil
	})
	return path, err
}

// copySparse copies the data ranges of the file at src into dst and sizes dst
// to size: the holes stay holes.
func copySparse(src string, dst *os.File, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	sfd, dfd := int(in.Fd()), int(dst.Fd())
	var off int64
	for off < size {
		data, err := unix.Seek(sfd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(sfd, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		for in, out := data, data; in < hole; {
			n, err := unix.CopyFileRange(sfd, &in, dfd, &out, int(hole-in), 0)
			if err != nil {
				return err
			}
			if n == 0 {
				return io.ErrUnexpectedEOF
			}
		}
		off = hole
	}
	return dst.Truncate(size)
}

// mountLoop attaches img to a free loop device (auto-clearing) and mounts
// the ext4 on it at dir, nosuid and nodev.
func mountLoop(img *os.File, dir string) error {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening loop control: %w", err)
	}
	defer ctl.Close()
	for attempt := 0; ; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return fmt.Errorf("finding a free loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		lfd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s: %w", dev, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(img.Fd()), Info: unix.LoopInfo64{Flags: loFlagsAutoclear}}
		err = unix.IoctlLoopConfigure(lfd, &cfg)
		if errors.Is(err, unix.EBUSY) && attempt < 20 {
			unix.Close(lfd) // another attach took it first
			continue
		}
		if err != nil {
			unix.Close(lfd)
			return fmt.Errorf("attaching %s: %w", dev, err)
		}
		err = unix.Mount(dev, dir, "ext4", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOATIME, "")
		unix.Close(lfd) // the mount holds the device now; unused, it detaches
		if err != nil {
			return fmt.Errorf("mounting %s on %s: %w", dev, dir, err)
		}
		return nil
	}
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
	d := &disks{dir: filepath.Join(scratch, "templates")}
	if err := os.Mkdir(filepath.Join(scratch, "fs"), 0o700); err != nil {
		return fmt.Errorf("checking disk limits: %w", err)
	}
	mnt := filepath.Join(scratch, "fs")
	defer func() {
		if uerr := unmount(mnt); uerr != nil && err == nil {
			err = uerr
		}
	}()
	if err := d.makeDisk(ctx, mnt, MinDiskBytes); err != nil {
		return fmt.Errorf("checking disk limits (need loop devices, ext4 and mkfs.ext4): %w", err)
	}
	f, err := os.Create(filepath.Join(mnt, "fill"))
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
