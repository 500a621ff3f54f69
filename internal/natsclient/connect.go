package natsclient

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"

	"github.com/diego-runtime/diego/internal/transport"
)

// DefaultReconnectWait is how long the client waits before trying a server
// again after losing it (every other server of the list is tried at once).
const DefaultReconnectWait = 500 * time.Millisecond

// Options say which servers to reach and how.
type Options struct {
	// Name names the client to the servers (nats.Name), e.g. "receptor".
	Name string
	// URLs are the servers, every member of the cluster or some of them
	// (the rest are learnt from the servers). Required.
	URLs []string
	// TLS is the certificate that names the daemon to NATS; empty connects
	// plain.
	TLS transport.TLS
	// ReconnectWait: zero means DefaultReconnectWait.
	ReconnectWait time.Duration
	// PingInterval and MaxPingsOutstanding bound how long a server that
	// vanished without closing the connection goes unnoticed; zero keeps
	// the client's defaults (2 min, 2).
	PingInterval        time.Duration
	MaxPingsOutstanding int
	// InboxPrefix replaces "_INBOX" in the subjects replies come to, so
	// that a client whose NATS user may not read every inbox can still make
	// requests (JetStream calls among them). Default "_INBOX".
	InboxPrefix string
}

// RepInboxPrefix is the inbox prefix of a cell's rep: the rep's NATS user
// may read replies there and nowhere else.
func RepInboxPrefix(cellID string) string { return "_INBOX.rep-" + cellID }

// Connect opens a connection to the first of o.URLs that answers, in the
// list's order. It
// returns at once even when none does: the client keeps trying every server
// for ever, and publications are buffered meanwhile. Each disconnect,
// reconnect and the final close are logged under logger.
func Connect(logger lager.Logger, o Options) (*nats.Conn, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("nats: no server URLs")
	}
	logger = logger.Session("nats", lager.Data{"servers": o.URLs})
	secure, err := transport.NATSOption(o.TLS)
	if err != nil {
		return nil, err
	}
	wait := o.ReconnectWait
	if wait <= 0 {
		wait = DefaultReconnectWait
	}
	opts := []nats.Option{
		nats.Name(o.Name), secure,
		nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(wait),
		// The list is tried in its order, so a machine can name its own
		// member first.
		nats.DontRandomize(),
		nats.ConnectHandler(func(c *nats.Conn) {
			logger.Info("connected", lager.Data{"server": c.ConnectedUrlRedacted()})
		}),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			if err == nil {
				logger.Info("disconnected")
				return
			}
			logger.Error("disconnected", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logger.Info("reconnected", lager.Data{"server": c.ConnectedUrlRedacted()})
		}),
		nats.ClosedHandler(func(c *nats.Conn) {
			if err := c.LastError(); err != nil {
				logger.Error("closed", err)
				return
			}
			logger.Info("closed")
		}),
		nats.ErrorHandler(func(c *nats.Conn, sub *nats.Subscription, err error) {
			data := lager.Data{}
			if sub != nil {
				data["subject"] = sub.Subject
			}
			logger.Error("async-error", err, data)
		}),
	}
	if o.PingInterval > 0 {
		opts = append(opts, nats.PingInterval(o.PingInterval))
	}
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	if o.MaxPingsOutstanding > 0 {
		opts = append(opts, nats.MaxPingsOutstanding(o.MaxPingsOutstanding))
	}
	conn, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", strings.Join(o.URLs, ", "), err)
	}
	return conn, nil
}
