package linux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"code.cloudfoundry.org/lager/v3"
)

// cgroupControllers are the v1 hierarchies runc puts containers in.
var cgroupControllers = []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "devices", "freezer", "blkio"}

// cleanupLeftovers removes everything a previous run of this garden left: its
// runc containers (and with them their network namespaces), veths, cgroups, iptables chains,
// rootfses and bundles. It only touches names derived from this garden's
// config, so another garden on the machine is unaffected.
func (b *Backend) cleanupLeftovers(ctx context.Context) error {
	logger := b.logger.Session("cleanup-leftovers")
	var errs []error
	ids, err := b.runc.list(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range ids {
		logger.Info("deleting-container", lager.Data{"handle": id})
		if err := b.runc.delete(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, b.net.removeStrayLinks(), b.ipt.removeAll(ctx))
	for _, ctrl := range cgroupControllers {
		errs = append(errs, removeCgroupTree(filepath.Join("/sys/fs/cgroup", ctrl, b.cfg.CgroupParent)))
	}
	errs = append(errs, b.images.Cleanup(logger))
	if entries, err := os.ReadDir(b.containersDir()); err == nil {
		for _, e := range entries {
			errs = append(errs, os.RemoveAll(filepath.Join(b.containersDir(), e.Name())))
		}
	}
	return errors.Join(errs...)
}

// removeCgroupTree removes a cgroup and its children, deepest first. cgroup
// directories are removed with rmdir (their files are virtual).
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}
