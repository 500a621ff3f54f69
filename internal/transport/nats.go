package transport

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// NATSOption is the NATS connection option for t: present the certificate
// (which names the user the server lets in) and trust only the CA. With t
// empty it changes nothing: a plain connection.
func NATSOption(t TLS) (nats.Option, error) {
	cfg, err := t.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("NATS TLS: %w", err)
	}
	if cfg == nil {
		return func(*nats.Options) error { return nil }, nil
	}
	return nats.Secure(cfg), nil
}
