package bbs

import (
	"errors"
	"time"

	"github.com/diego-runtime/diego/models"
)

// The state machines and the crash policy live in models (CheckTransition,
// RestartPolicy); the helpers below adapt them to the store's units.

// crashOutcome applies the LRP's restart policy to one more crash of lrp at now:
// the new crash count and whether the index restarts at once.
func crashOutcome(policy models.RestartPolicy, lrp *models.ActualLRP, now time.Time) (count int, restartNow bool) {
	count = policy.NewCrashCount(lrp.CrashCount, time.Unix(0, lrp.Since), now, lrp.State == models.ActualLRPStateRunning)
	return count, policy.ShouldRestartImmediately(count)
}

// validate runs a record's own Validate and reports a failure as the given
// wire error naming the bad fields (a typed error passes through).
func validate(v interface{ Validate() error }, as *models.Error) error {
	return asWireError(v.Validate(), as)
}

// asWireError keeps a typed error and wraps any other as the given one.
func asWireError(err error, as *models.Error) error {
	if err == nil {
		return nil
	}
	var typed *models.Error
	if errors.As(err, &typed) {
		return err
	}
	return as.WithMessage("%s", err.Error())
}

// validateDesired checks a new desired LRP.
func validateDesired(lrp *models.DesiredLRP) error {
	if lrp == nil {
		return models.ErrInvalidLRP.WithMessage("no desired LRP given")
	}
	return validate(lrp, models.ErrInvalidLRP)
}
