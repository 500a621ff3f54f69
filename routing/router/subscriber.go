package router

import (
	"encoding/json"
	"errors"
	"fmt"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"

	"github.com/diego-runtime/diego/routing/messages"
)

// subscriber applies the routing protocol's NATS messages to the table.
// All router.* subjects arrive on one subscription, so register and
// unregister messages are applied in the order they were published.
type subscriber struct {
	table   *Table
	clock   clock.Clock
	metrics *metrics
	logger  lager.Logger
	start   messages.RouterStart
	gate    *pruneGate // told of every registration applied
}

const routerSubjects = "router.*"

func (s *subscriber) handle(msg *nats.Msg) {
	s.metrics.natsMessages.WithLabelValues(msg.Subject).Inc()
	switch msg.Subject {
	case messages.SubjectRegister, messages.SubjectUnregister:
		s.apply(msg.Subject, msg.Data)
	case messages.SubjectGreet:
		if msg.Reply == "" {
			return
		}
		if err := msg.Respond(s.startPayload()); err != nil {
			s.logger.Error("answering-greet", err)
		}
	}
	// router.start from routers (ourselves included) needs no action.
}

func (s *subscriber) apply(subject string, data []byte) {
	var m messages.RegistryMessage
	if err := json.Unmarshal(data, &m); err != nil {
		s.metrics.malformed.Inc()
		s.logger.Debug("malformed-message", lager.Data{"subject": subject, "error": err.Error()})
		return
	}
	if err := m.Validate(); err != nil {
		var invalid *messages.InvalidRegistryMessageError
		reason := "invalid"
		if errors.As(err, &invalid) {
			reason = "invalid_" + invalid.Field
		}
		s.metrics.ignored.WithLabelValues(reason).Inc()
		s.logger.Debug("ignored-message", lager.Data{"subject": subject, "error": err.Error()})
		return
	}
	now := s.clock.Now()
	if subject == messages.SubjectRegister {
		s.gate.heard(now)
	}
	for _, uri := range m.URIs {
		host, path := messages.NormalizeHost(uri)
		if host == "" {
			s.metrics.ignored.WithLabelValues("invalid_uri").Inc()
			continue
		}
		if path != "" && path != "/" {
			// Path routes are a gorouter feature this router does not
			// have; routing the whole host to them would be wrong.
			s.metrics.ignored.WithLabelValues("path_route").Inc()
			continue
		}
		if subject == messages.SubjectUnregister {
			if s.table.Unregister(host, m) == Removed {
				s.metrics.unregistrations.Inc()
			}
			continue
		}
		switch s.table.Register(host, m, now) {
		case Added:
			s.metrics.registrations.WithLabelValues("added").Inc()
		case Refreshed:
			s.metrics.registrations.WithLabelValues("refreshed").Inc()
		default:
			s.metrics.registrations.WithLabelValues("stale").Inc()
		}
	}
}

func (s *subscriber) startPayload() []byte {
	b, err := json.Marshal(s.start)
	if err != nil {
		panic(fmt.Sprintf("router: encoding start message: %v", err)) // plain struct; cannot fail
	}
	return b
}
