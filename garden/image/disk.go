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
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"
)

// A container's writable layer lives on a file system of its own, its disk
// limit in size: a sparse file formatted ext4, attached to an auto-clearing
// loop device and mounted over the container's directory. Writes past the
// limit fail with ENOSPC inside the container, and the host file system gives
// the sparse file at most its size.
//
// The sparse file has no name (O_TMPFILE in <Dir>/disks) and the mount is made
// detached (fsmount) before it is moved over the directory, so the file system
// is held only by its mount: when the last reference to the mount goes (the
// unmount, or a crashed garden's descriptors closing), the kernel frees the
// loop device and then the file. Nothing of it can outlive garden on disk.
// That is also what lets the pool (diskpool.go) keep file systems ready.
//
// Why not a project quota on one shared file system: it needs the host's
// file system mounted with prjquota (ext4) or pquota (xfs) and a kernel with
// quota support, which ordinary hosts, and this project's test machines, do
// not all have; loop devices and ext4 are everywhere. See docs/garden.md.

// MinDiskBytes is the smallest limit a container's file system can have.
const MinDiskBytes = 16 << 20

// loFlagsAutoclear detaches a loop device when its last user (the mount)
// goes (linux/loop.h).
const loFlagsAutoclear = 4

// disks formats one empty file system per size and copies it, holes kept,
// for each container: a copy of the few hundred KB a fresh ext4 holds is
// far cheaper than mkfs on every create.
type disks struct {
	dir      string // templates: <dir>/<size>.img; unnamed disk files
	building singleflight.Group
}

// makeDisk gives dir a file system of its own, size bytes, mounted over it
// with dir's mode. On error nothing is mounted.
func (d *disks) makeDisk(ctx context.Context, dir string, size int64) error {
	mnt, err := d.format(ctx, size)
	if err != nil {
		return err
	}
	return attachDisk(mnt, dir)
}

// format makes a file system of size bytes and returns it as a detached
// mount (an fsmount descriptor): nosuid, nodev, noatime; no write barriers and
// no background inode table zeroing, since it is thrown away with its
// container. Closing the descriptor frees everything.
func (d *disks) format(ctx context.Context, size int64) (int, error) {
	if size < MinDiskBytes {
		return -1, fmt.Errorf("disk limit %d bytes is below the %d MiB minimum", size, MinDiskBytes>>20)
	}
	tmpl, err := d.template(ctx, size)
	if err != nil {
		return -1, err
	}
	img, err := unnamedFile(d.dir)
	if err != nil {
		return -1, fmt.Errorf("creating a disk file in %s: %w", d.dir, err)
	}
	defer img.Close() // the loop device holds its own reference
	if err := copySparse(tmpl, img, size); err != nil {
		return -1, fmt.Errorf("copying disk image: %w", err)
	}
	lfd, dev, err := attachLoop(img)
	if err != nil {
		return -1, err
	}
	// The mount holds the device once made; unused, it detaches.
	defer unix.Close(lfd)
	mnt, err := mountExt4(dev)
	if err != nil {
		return -1, fmt.Errorf("mounting %s: %w", dev, err)
	}
	return mnt, nil
}

// unnamedFile opens a new file in dir that has no name: O_TMPFILE, or on a
// file system without it a file removed as soon as it is open (a crash in
// between leaves it for the next template build's directory to hold).
func unnamedFile(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir, unix.O_TMPFILE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) {
		return f, err
	}
	f, err = os.CreateTemp(dir, "disk-*.tmp")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

// removeStale deletes disk files a crash left between their creation and
// their removal (only where O_TMPFILE is missing).
func (d *disks) removeStale() error {
	stale, err := filepath.Glob(filepath.Join(d.dir, "disk-*.tmp"))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// attachDisk moves the detached mount mnt over dir, gives its root dir's
// mode, and closes mnt. On error mnt is closed and nothing is mounted.
func attachDisk(mnt int, dir string) error {
	defer unix.Close(mnt)
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := unix.MoveMount(mnt, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mounting a disk on %s: %w", dir, err)
	}
	if err := os.Chmod(dir, st.Mode().Perm()); err != nil {
		return errors.Join(fmt.Errorf("setting the mode of %s: %w", dir, err), unmount(dir))
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

// attachLoop attaches img to a free loop device, auto-clearing, and returns
// an open descriptor of the device and its path.
func attachLoop(img *os.File) (int, string, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("opening loop control: %w", err)
	}
	defer ctl.Close()
	// Every attacher on the machine (each cell of diego up has a garden, each
	// garden attaches many at once) is handed the same lowest free device,
	// and all but one then fail with EBUSY, again and again under a burst.
	// One lock on loop-control, taken by every garden, lets them take turns;
	// closing ctl releases it.
	if err := unix.Flock(int(ctl.Fd()), unix.LOCK_EX); err != nil {
		return -1, "", fmt.Errorf("locking loop control: %w", err)
	}
	for attempt := 0; ; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return -1, "", fmt.Errorf("finding a free loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		lfd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, "", fmt.Errorf("opening %s: %w", dev, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(img.Fd()), Info: unix.LoopInfo64{Flags: loFlagsAutoclear}}
		err = unix.IoctlLoopConfigure(lfd, &cfg)
		if errors.Is(err, unix.EBUSY) && attempt < 50 {
			// An attacher that does not take the lock (losetup, another
			// program) took it first; back off a little and take the next.
			unix.Close(lfd)
			time.Sleep(time.Duration(attempt+1) * time.Millisecond)
			continue
		}
		if err != nil {
			unix.Close(lfd)
			return -1, "", fmt.Errorf("attaching %s: %w", dev, err)
		}
		return lfd, dev, nil
	}
}

// mountExt4 mounts the ext4 on dev detached and returns the mount's
// descriptor.
func mountExt4(dev string) (int, error) {
	fsfd, err := unix.Fsopen("ext4", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "source", dev); err != nil {
		return -1, fmt.Errorf("source: %w", err)
	}
	// No flush of the host's disk on sync or unmount (the data dies with
	// the container), and no kernel thread zeroing inode tables that the
	// group checksums already mark unused.
	for _, flag := range []string{"nobarrier", "noinit_itable"} {
		if err := unix.FsconfigSetFlag(fsfd, flag); err != nil {
			return -1, fmt.Errorf("%s: %w", flag, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("creating the file system: %w", err)
	}
	mnt, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOATIME)
	if err != nil {
		return -1, fmt.Errorf("fsmount: %w", err)
	}
	return mnt, nil
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
