package messages

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// NATS subjects of the routing protocol.
const (
	// SubjectRegister carries a RegistryMessage that adds or refreshes an
	// endpoint under each of its URIs.
	SubjectRegister = "router.register"
	// SubjectUnregister carries a RegistryMessage that removes the endpoint
	// from each of its URIs.
	SubjectUnregister = "router.unregister"
	// SubjectStart is published by a router when it starts (and periodically
	// after), carrying a RouterStart; publishers answer by registering
	// everything they know.
	SubjectStart = "router.start"
	// SubjectGreet is a request subject: a publisher that starts sends a
	// request on it and every router answers with its RouterStart.
	SubjectGreet = "router.greet"
)

// RegistryMessage is the JSON body of router.register and router.unregister,
// in the form gorouter reads. One message names one endpoint (Host:Port) and
// every hostname routed to it.
type RegistryMessage struct {
	// Host is the endpoint's IP address (or resolvable name). Required.
	Host string `json:"host"`
	// Port is the endpoint's plain-HTTP port. Required, 1..65535; a message
	// with port 0 is ignored.
	Port uint16 `json:"port"`
	// TLSPort is the endpoint's TLS port, for routers that speak TLS to
	// backends. Optional; routing/router ignores it and uses Port.
	TLSPort uint16 `json:"tls_port,omitempty"`
	// URIs are the hostnames (route URLs without scheme) routed to the
	// endpoint, e.g. "app.example.com". A URI may carry a path
	// ("app.example.com/api") for routers that support path routes;
	// routing/router ignores those. Required: at least one.
	URIs []string `json:"uris"`
	// App is the application id the endpoint belongs to (Diego: the LRP's
	// log guid; gorouter matches X-CF-App-Instance against it). Optional;
	// used in logs and access lines.
	App string `json:"app,omitempty"`
	// PrivateInstanceID identifies the instance (Diego: instance guid).
	// Optional.
	PrivateInstanceID string `json:"private_instance_id,omitempty"`
	// PrivateInstanceIndex is the instance index as a decimal string.
	// Optional.
	PrivateInstanceIndex string `json:"private_instance_index,omitempty"`
	// Tags are free-form labels. Diego's emitter sets "component":
	// "route-emitter", as Cloud Foundry's does, and app_id, process_id,
	// process_instance_id and instance_id. Optional.
	Tags map[string]string `json:"tags,omitempty"`
	// StaleThresholdInSeconds, when positive and below the router's own
	// prune threshold, shortens how long the endpoint survives without a
	// refresh. Optional; 0 means the router's threshold.
	StaleThresholdInSeconds int `json:"stale_threshold_in_seconds,omitempty"`
	// ServerCertDomainSAN is the SAN a TLS backend's certificate must carry.
	// Optional; unused by routing/router.
	ServerCertDomainSAN string `json:"server_cert_domain_san,omitempty"`
	// RouteServiceURL names a route service that requests must pass through
	// first. Optional; unused by routing/router.
	RouteServiceURL string `json:"route_service_url,omitempty"`
	// EndpointUpdatedAtNs is when the publisher last changed this endpoint
	// (unix nanoseconds). Optional; when set, a router ignores a message older
	// than the one it already applied for the same endpoint, so reordered
	// register/unregister pairs cannot resurrect or drop a route.
	EndpointUpdatedAtNs int64 `json:"endpoint_updated_at_ns,omitempty"`
	// Protocol is the backend protocol ("http1" or "http2"). Optional;
	// routing/router always speaks HTTP/1.1.
	Protocol string `json:"protocol,omitempty"`
	// IsolationSegment names the isolation segment of the endpoint's cell
	// (rep config isolation_segment). Optional; unused by routing/router.
	IsolationSegment string `json:"isolation_segment,omitempty"`
	// AvailabilityZone names the zone of the endpoint's cell (gorouter's
	// AZ-aware balancing reads it). Optional; unused by routing/router.
	AvailabilityZone string `json:"availability_zone,omitempty"`
}

// ErrInvalidRegistryMessage is matched (errors.Is) by every validation error.
var ErrInvalidRegistryMessage = errors.New("invalid registry message")

// InvalidRegistryMessageError says which field made a message unusable.
type InvalidRegistryMessageError struct {
	Field  string
	Reason string
}

func (e *InvalidRegistryMessageError) Error() string {
	return fmt.Sprintf("invalid registry message: %s %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidRegistryMessage) true.
func (e *InvalidRegistryMessageError) Is(target error) bool {
	return target == ErrInvalidRegistryMessage
}

// Validate reports why a message cannot name an endpoint: a missing host, a
// zero port or no URIs.
func (m RegistryMessage) Validate() error {
	switch {
	case strings.TrimSpace(m.Host) == "":
		return &InvalidRegistryMessageError{Field: "host", Reason: "is missing"}
	case m.Port == 0:
		return &InvalidRegistryMessageError{Field: "port", Reason: "must be 1..65535"}
	case len(m.URIs) == 0:
		return &InvalidRegistryMessageError{Field: "uris", Reason: "is empty"}
	}
	return nil
}

// Address is the endpoint's "host:port" (IPv6 hosts bracketed).
func (m RegistryMessage) Address() string {
	return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
}

// NormalizeHost turns a URI or a request's Host header into a route-table
// key: lower case, without port, without a trailing dot. The path, if any,
// is returned separately (empty when there is none).
func NormalizeHost(uri string) (host, path string) {
	if i := strings.IndexByte(uri, '/'); i >= 0 {
		uri, path = uri[:i], uri[i:]
	}
	host = uri
	if h, _, err := net.SplitHostPort(uri); err == nil {
		host = h
	} else if strings.HasPrefix(uri, "[") && strings.HasSuffix(uri, "]") {
		host = uri[1 : len(uri)-1]
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host, path
}

// RouterStart is the JSON body of router.start and of a router's answer to
// router.greet: who the router is and how often it wants to hear from
// publishers.
type RouterStart struct {
	// ID identifies the router process (unique per process lifetime).
	ID string `json:"id"`
	// Hosts are the router's addresses, for information.
	Hosts []string `json:"hosts"`
	// MinimumRegisterIntervalInSeconds is how often publishers must refresh
	// each registration (default 20).
	MinimumRegisterIntervalInSeconds int `json:"minimumRegisterIntervalInSeconds"`
	// PruneThresholdInSeconds is how long the router keeps an endpoint
	// without a refresh (default 120).
	PruneThresholdInSeconds int `json:"pruneThresholdInSeconds"`
}
