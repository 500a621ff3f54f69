package linux

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"code.cloudfoundry.org/lager/v3"
)

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
	errs = append(errs, b.cgroups.removeAll())
	errs = append(errs, b.images.Cleanup(logger))
	if entries, err := os.ReadDir(b.containersDir()); err == nil {
		for _, e := range entries {
			errs = append(errs, os.RemoveAll(filepath.Join(b.containersDir(), e.Name())))
		}
	}
	return errors.Join(errs...)
}
