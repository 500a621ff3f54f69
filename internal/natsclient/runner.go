package natsclient

import (
	"context"
	"errors"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultStreamCheckTimeout bounds each attempt of a StreamCheck.
const DefaultStreamCheckTimeout = 5 * time.Second

// StreamCheck is the ifrit runner that ensures the log stream when a daemon
// starts (EnsureLogStream). Its first attempt comes before it is ready: an
// incompatible stream fails the start, naming the stream. If NATS cannot be
// reached then, the daemon starts anyway (its API does not wait for NATS)
// and the check is tried again every Retry until it succeeds; an
// incompatible stream found then stops the daemon the same way.
type StreamCheck struct {
	Logger lager.Logger
	Clock  clock.Clock
	JS     jetstream.JetStream
	Config LogStreamConfig
	// Timeout bounds each attempt; zero means DefaultStreamCheckTimeout.
	Timeout time.Duration
	// Retry is the wait between attempts; zero means the Timeout.
	Retry time.Duration
}

// Run implements ifrit.Runner.
func (s *StreamCheck) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultStreamCheckTimeout
	}
	retry := s.Retry
	if retry <= 0 {
		retry = timeout
	}
	logger := s.Logger.Session("stream-check")
	attempt := func() (done bool, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err = EnsureLogStream(ctx, logger, s.JS, s.Config)
		var incompatible *IncompatibleStreamError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &incompatible):
			logger.Error("incompatible", err)
			return true, err
		default:
			logger.Error("failed-will-retry", err, lager.Data{"retry": retry.String()})
			return false, nil
		}
	}
	done, err := attempt()
	if err != nil {
		return err
	}
	close(ready)
	for !done {
		timer := s.Clock.NewTimer(retry)
		select {
		case <-signals:
			timer.Stop()
			return nil
		case <-timer.C():
		}
		if done, err = attempt(); err != nil {
			return err
		}
	}
	<-signals
	return nil
}
