package bbs

import "github.com/diego-runtime/diego/models"

// policy is what the operator allows beyond what a record's own validation
// checks: bounds that protect the cluster from one request.
type policy struct {
	maxInstances    int
	allowPrivileged bool
}

// checkInstances refuses a count above the bound.
func (p policy) checkInstances(instances int) error {
	if instances > p.maxInstances {
		return models.ErrInvalidLRP.WithMessage("instances: must be at most %d (this cluster's max_instances), not %d", p.maxInstances, instances)
	}
	return nil
}

// checkPrivileged refuses a privileged record unless the operator allows them.
func (p policy) checkPrivileged(privileged bool, as *models.Error) error {
	if privileged && !p.allowPrivileged {
		return as.WithMessage("privileged: this cluster does not allow privileged containers (the operator's allow_privileged)")
	}
	return nil
}

// clampInstances is the number of indices to walk for a stored count: a
// record stored before the bound (or under a larger one) is not expanded
// past it.
func (p policy) clampInstances(instances int) int {
	return min(instances, p.maxInstances)
}
