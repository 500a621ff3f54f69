package rep

import (
	"context"
	"os"
	"time"

	"code.cloudfoundry.org/lager/v3"
)

// DefaultAdoptionRetryInterval is the default of Config.AdoptionRetryInterval.
const DefaultAdoptionRetryInterval = time.Second

// adoptionTimeout bounds one adoption attempt.
const adoptionTimeout = time.Minute

// Adopter adopts the containers garden still holds for this cell after a
// restart. While garden does not answer (a List error, or an Info error for
// some container) it tries again every Interval until every container was
// read, so none is left running unknown beside its replacement. Until then the
// rep's harmonizer gives no record of this cell away: a record without an
// adopted container may well have one garden has not listed yet.
//
// It is an ifrit runner, ready at once (the rest of the rep runs meanwhile; an
// unhealthy garden already makes the cell take no work). It must be started
// before the Harmonizer.
type Adopter struct {
	Rep      *Rep
	Interval time.Duration // default DefaultAdoptionRetryInterval
}

// Run implements ifrit.Runner.
func (a Adopter) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := a.Rep.logger.Session("adopter")
	interval := a.Interval
	if interval <= 0 {
		interval = DefaultAdoptionRetryInterval
	}
	a.Rep.adoptionPending.Store(true)
	close(ready)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), adoptionTimeout)
		n, err := a.Rep.executor.Adopt(ctx)
		cancel()
		if err == nil {
			logger.Info("adopted", lager.Data{"count": n, "attempts": attempt})
			a.Rep.adoptionPending.Store(false)
			a.Rep.Harmonize(context.Background())
			break
		}
		logger.Error("adoption-failed-will-retry", err, lager.Data{"attempt": attempt, "adopted": n, "retry_in": interval.String()})
		select {
		case <-signals:
			return nil
		case <-a.Rep.clock.After(interval):
		}
	}
	<-signals
	return nil
}
