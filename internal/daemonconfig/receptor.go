package daemonconfig

import (
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/natsclient"
	"github.com/diego-runtime/diego/internal/netguard"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/receptor"
)

// Receptor is the receptor's JSON config file.
type Receptor struct {
	// ListenAddress serves the public API. Default ":8887".
	ListenAddress string `json:"listen_address"`
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17019".
	DebugAddress string `json:"debug_address"`
	// BBSURLs are the BBS servers, tried in turn. Default ["http://127.0.0.1:8889"].
	BBSURLs []string `json:"bbs_urls"`
	// BBSTLS is mutual TLS to the BBS; empty means plain HTTP. Default empty.
	BBSTLS transport.TLS `json:"bbs_tls"`
	// BBSRequestTimeout bounds each BBS request. Default "15s".
	BBSRequestTimeout time.Duration `json:"bbs_request_timeout"`
	// TLSCertFile and TLSKeyFile (PEM) serve the API over HTTPS; both empty
	// serves plain HTTP. Default empty.
	receptor.TLSFiles
	// Username and Password turn on basic auth when Username is set. Default
	// off, which only a loopback listen_address or AllowAnonymous accepts.
	Username string `json:"username"`
	Password string `json:"password"`
	// AllowAnonymous lets the receptor listen beyond loopback without basic
	// auth. Default false: it refuses to start.
	AllowAnonymous bool `json:"allow_anonymous"`
	// CORSOrigins may call the API from a browser: listed origins with
	// credentials, "*" any other origin without. Default none.
	CORSOrigins []string `json:"cors_origins"`
	// AllowedHosts, when set, are the only Host names served (421 for any
	// other). Default empty: any.
	AllowedHosts []string `json:"allowed_hosts"`
	// MaxStreamsPerClient caps the open event and log streams per basic-auth
	// user (else per remote address). Default 16.
	MaxStreamsPerClient int `json:"max_streams_per_client"`
	// CallbackDenyNetworks (CIDRs or addresses) are refused as completion
	// callback destinations, on top of loopback, 0.0.0.0/8, link-local and
	// this host's addresses. Default none.
	CallbackDenyNetworks []string `json:"callback_deny_networks"`
	// AllowLoopbackCallbacks lets completion callbacks reach loopback (for
	// tests and receivers on the receptor's own machine). Default false.
	AllowLoopbackCallbacks bool `json:"allow_loopback_callbacks"`
	// NATSURLs are the NATS servers (members of one cluster, with
	// JetStream), tried in order, that GET /v1/logs reads the LOGS stream
	// from; the receptor creates the stream where it is missing
	// (logs_stream) and refuses to start if it exists in a shape that cannot
	// keep log lines. Empty answers 501 there. Default
	// ["nats://127.0.0.1:4222"].
	NATSURLs []string `json:"nats_urls"`
	// LogsStream is what the LOGS stream is created with when missing.
	LogsStream natsclient.LogStreamConfig `json:"logs_stream"`
	// NATSTLS is the certificate that names the receptor to NATS; empty
	// connects plain. Default empty.
	NATSTLS transport.TLS `json:"nats_tls"`
	// CallbackKickInterval is how often completed tasks are scanned for
	// callbacks to deliver. Default "30s".
	CallbackKickInterval time.Duration `json:"callback_kick_interval"`
	// ResolvingRenewInterval is how often a callback delivery in flight
	// renews its task's RESOLVING lease; keep it well below the converger's
	// resolving_timeout. Default "10s".
	ResolvingRenewInterval time.Duration `json:"resolving_renew_interval"`
	// MaxBodyBytes caps a request body. Default 1048576.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultReceptor returns the defaults of every field.
func DefaultReceptor() Receptor {
	return Receptor{
		ListenAddress:          ":8887",
		DebugAddress:           "127.0.0.1:17019",
		BBSURLs:                []string{"http://127.0.0.1:8889"},
		BBSRequestTimeout:      15 * time.Second,
		NATSURLs:               []string{"nats://127.0.0.1:4222"},
		LogsStream:             natsclient.DefaultLogStreamConfig(),
		CallbackKickInterval:   30 * time.Second,
		ResolvingRenewInterval: receptor.DefaultResolvingRenewInterval,
		MaxBodyBytes:           receptor.DefaultMaxBodyBytes,
		MaxStreamsPerClient:    receptor.DefaultMaxStreamsPerClient,
		LogLevel:               "info",
	}
}

// Validate reports every problem with the config.
func (c Receptor) Validate() error {
	var p config.Problems
	p.Check(c.ListenAddress != "", "listen_address", "is required")
	p.Check(len(c.BBSURLs) > 0, "bbs_urls", "is required")
	p.Positive(map[string]time.Duration{"bbs_request_timeout": c.BBSRequestTimeout,
		"callback_kick_interval": c.CallbackKickInterval, "resolving_renew_interval": c.ResolvingRenewInterval})
	p.Check(c.MaxBodyBytes > 0, "max_body_bytes", "must be positive")
	p.Check(c.Username != "" || c.Password == "", "password", "is set without a username")
	p.Check(c.MaxStreamsPerClient > 0, "max_streams_per_client", "must be positive")
	p.Check((c.CertFile == "") == (c.KeyFile == ""), "tls_cert_file", "and tls_key_file go together")
	p.Nest("logs_stream", c.LogsStream.Validate())
	p.Add(receptor.CheckExposure(c.ListenAddress, c.Username, c.Password, c.AllowAnonymous))
	if _, err := netguard.Parse(c.CallbackDenyNetworks...); err != nil {
		p.Addf("callback_deny_networks", "%v", err)
	}
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	return p.Err()
}
