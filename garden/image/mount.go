package image

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// maxMountData is the kernel's limit on the option string of mount(2): one
// page including the terminating NUL. Short cache dir names keep most images
// well under it; past it, mountOverlayPerLayer takes over.
var maxMountData = os.Getpagesize() - 1

// mountOverlay mounts the rootfs nosuid and nodev: nothing reached through it
// gains privileges on the host (see perms.go).
func mountOverlay(lowers []string, upper, work, target string) error {
	for _, dir := range append(append([]string{}, lowers...), upper, work) {
		if strings.ContainsAny(dir, ":,") {
			return fmt.Errorf("overlay directory %q contains ':' or ','", dir)
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), upper, work)
	if len(data) > maxMountData {
		// Too many layers for one option string: hand the kernel one lower
		// dir at a time through the new mount API instead.
		if err := mountOverlayPerLayer(lowers, upper, work, target); err != nil {
			return fmt.Errorf("mounting overlay of %d layers on %s (options are %d bytes, over mount(2)'s %d): %w",
				len(lowers), target, len(data), maxMountData, err)
		}
		return nil
	}
	if err := unix.Mount("overlay", target, "overlay", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	return nil
}

// mountOverlayPerLayer mounts with fsopen/fsconfig, passing each lower dir as
// its own "lowerdir+" parameter (Linux 6.8 and later), which has no limit on
// the total length.
func mountOverlayPerLayer(lowers []string, upper, work, target string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	for _, lower := range lowers {
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", lower); err != nil {
			return fmt.Errorf("lowerdir+ %s (kernel before 6.8?): %w", lower, err)
		}
	}
	if err := unix.FsconfigSetString(fsfd, "upperdir", upper); err != nil {
		return fmt.Errorf("upperdir: %w", err)
	}
	if err := unix.FsconfigSetString(fsfd, "workdir", work); err != nil {
		return fmt.Errorf("workdir: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("creating overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

// unmount detaches the mount at target; a path that is not mounted (or does
// not exist) is fine, so callers can use it idempotently.
func unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		// Something still holds it (a straggling process in its namespace):
		// detach now, the kernel frees it when the last user goes.
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", target, err)
}

// mountsUnder lists the mount points at or below dir, deepest first, so they
// can be unmounted in order.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()

	prefix := strings.TrimSuffix(dir, "/") + "/"
	var found []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 5 {
			continue
		}
		point := unescapeMountinfo(fields[4])
		if point == dir || strings.HasPrefix(point, prefix) {
			found = append(found, point)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	sort.Slice(found, func(i, j int) bool { return len(found[i]) > len(found[j]) })
	return found, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for space, ...) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
