// Command receptor serves Diego's public API (docs/api.md) and delivers task
// completion callbacks. It holds no state; run several.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemon"
	"github.com/diego-runtime/diego/internal/debugserver"
	"github.com/diego-runtime/diego/internal/netguard"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/internal/version"
	"github.com/diego-runtime/diego/receptor"
	"github.com/diego-runtime/diego/receptor/sshd"
)

// Config is the receptor's JSON config file.
type Config struct {
	// ListenAddress serves the public API. Default ":8887".
	ListenAddress string `json:"listen_address"`
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17019".
	DebugAddress string `json:"debug_address"`
	// BBSURLs are the BBS servers, tried in turn. Default ["http://127.0.0.1:8889"].
	BBSURLs []string `json:"bbs_urls"`
	// BBSTLS is mutual TLS to the BBS; empty means plain HTTP. Default empty.
	BBSTLS transport.TLS `json:"bbs_tls"`
	// BBSRequestTimeoutMs bounds each BBS request. Default 15000.
	BBSRequestTimeoutMs int `json:"bbs_request_timeout_ms"`
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
	// NATSURL is the NATS server (with JetStream and the LOGS stream) that
	// GET /v1/logs reads from; empty answers 501 there. Default
	// "nats://127.0.0.1:4222".
	NATSURL string `json:"nats_url"`
	// NATSTLS is the certificate that names the receptor to NATS; empty
	// connects plain. Default empty.
	NATSTLS transport.TLS `json:"nats_tls"`
	// CallbackKickIntervalMs is how often completed tasks are scanned for
	// callbacks to deliver. Default 30000.
	CallbackKickIntervalMs int `json:"callback_kick_interval_ms"`
	// ResolvingRenewInterval is how often a callback delivery in flight
	// renews its task's RESOLVING lease; keep it well below the converger's
	// resolving_timeout_ms. Default "10s".
	ResolvingRenewInterval time.Duration `json:"resolving_renew_interval"`
	// MaxBodyBytes caps a request body. Default 1048576.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// SSHListenAddress serves `diego ssh` (receptor/sshd): logins with
	// one-time codes from POST /v1/actual_lrps/:guid/index/:i/ssh. Empty
	// turns SSH off (that route answers 403). Default ":2222".
	SSHListenAddress string `json:"ssh_listen_address"`
	// SSHAdvertiseHost is the host SSH clients are told to reach; empty:
	// the listener's address, or the host the API was reached by. Default empty.
	SSHAdvertiseHost string `json:"ssh_advertise_host"`
	// SSHHostKeyFile is the SSH host key (an OpenSSH private key); empty
	// makes an ed25519 key at every start (clients learn it from the API).
	// Receptors behind one address should share one. Default empty.
	SSHHostKeyFile string `json:"ssh_host_key_file"`
	// SSHCodeKey signs the one-time codes; receptors that share it accept
	// each other's. Empty: a random key per start. Default empty.
	SSHCodeKey string `json:"ssh_code_key"`
	// SSHCodeTTL is how long a code can open its connection. Default "1m".
	SSHCodeTTL time.Duration `json:"ssh_code_ttl"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{
		ListenAddress:          ":8887",
		DebugAddress:           "127.0.0.1:17019",
		BBSURLs:                []string{"http://127.0.0.1:8889"},
		BBSRequestTimeoutMs:    15000,
		NATSURL:                "nats://127.0.0.1:4222",
		CallbackKickIntervalMs: 30000,
		ResolvingRenewInterval: receptor.DefaultResolvingRenewInterval,
		MaxBodyBytes:           receptor.DefaultMaxBodyBytes,
		MaxStreamsPerClient:    receptor.DefaultMaxStreamsPerClient,
		SSHListenAddress:       ":2222",
		SSHCodeTTL:             sshd.DefaultCodeTTL,
		LogLevel:               "info",
	}
}

// Validate reports the first problem with the config.
func (c Config) Validate() error {
	switch {
	case c.ListenAddress == "":
		return errors.New("listen_address is required")
	case len(c.BBSURLs) == 0:
		return errors.New("bbs_urls is required")
	case c.BBSRequestTimeoutMs <= 0 || c.CallbackKickIntervalMs <= 0 || c.MaxBodyBytes <= 0:
		return errors.New("bbs_request_timeout_ms, callback_kick_interval_ms and max_body_bytes must be positive")
	case c.Username == "" && c.Password != "":
		return errors.New("password is set without a username")
	case c.MaxStreamsPerClient <= 0:
		return errors.New("max_streams_per_client must be positive")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("tls_cert_file and tls_key_file go together")
	case c.SSHCodeTTL <= 0:
		return errors.New("ssh_code_ttl must be positive")
	case c.SSHCodeKey != "" && len(c.SSHCodeKey) < 32:
		return errors.New("ssh_code_key must be at least 32 characters")
	}
	if err := receptor.CheckExposure(c.ListenAddress, c.Username, c.Password, c.AllowAnonymous); err != nil {
		return err
	}
	if _, err := netguard.Parse(c.CallbackDenyNetworks...); err != nil {
		return fmt.Errorf("callback_deny_networks: %w", err)
	}
	_, err := lager.LogLevelFromString(c.LogLevel)
	return err
}

func main() { daemon.Main("receptor", run, defaults) }

// defaults is the config run loads its file into.
func defaults() config.Validator { c := DefaultConfig(); return &c }

func run(configPath string) error {
	cfg := DefaultConfig()
	if err := config.LoadValid(configPath, &cfg); err != nil {
		return err
	}
	logger, err := daemon.NewLogger("receptor", cfg.LogLevel)
	if err != nil {
		return err
	}

	httpClient, err := transport.NewClient(cfg.BBSTLS, time.Duration(cfg.BBSRequestTimeoutMs)*time.Millisecond)
	if err != nil {
		return err
	}
	bbs := client.NewClient(httpClient, cfg.BBSURLs...)
	options := receptor.Options{
		Username:            cfg.Username,
		Password:            cfg.Password,
		CORSOrigins:         cfg.CORSOrigins,
		AllowedHosts:        cfg.AllowedHosts,
		MaxStreamsPerClient: cfg.MaxStreamsPerClient,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		Registerer:          prometheus.DefaultRegisterer,
	}
	if cfg.NATSURL != "" {
		// Connect in the background: the API serves while NATS is away, and
		// the logs route answers 503 until it is back.
		natsTLS, err := transport.NATSOption(cfg.NATSTLS)
		if err != nil {
			return err
		}
		nc, err := nats.Connect(cfg.NATSURL, nats.Name("receptor"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), natsTLS)
		if err != nil {
			return fmt.Errorf("connecting to NATS at %s: %w", cfg.NATSURL, err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return fmt.Errorf("opening JetStream: %w", err)
		}
		options.Logs = &receptor.LogStream{Logger: logger, JS: js}
		options.Metrics = receptor.NewMetricsCache(logger, clock.NewClock(), 0)
		if _, err := options.Metrics.Subscribe(nc); err != nil {
			return fmt.Errorf("subscribing to instance metrics: %w", err)
		}
	}
	var sshServer *sshd.Server
	if cfg.SSHListenAddress != "" {
		if sshServer, err = newSSHServer(cfg, logger, bbs); err != nil {
			return err
		}
		options.SSH = sshServer
	}
	handler := receptor.NewHandler(logger, bbs, options)
	listener, err := receptor.Listen(cfg.ListenAddress, cfg.TLSFiles)
	if err != nil {
		return err
	}
	api := &transport.Server{Listener: listener, Handler: handler, ShutdownTimeout: 10 * time.Second}
	debug, err := transport.NewServer(transport.TLS{}, cfg.DebugAddress, debugserver.Handler(nil))
	if err != nil {
		return err
	}
	callbacks := &receptor.TaskCompletionWorker{
		Logger:                 logger,
		BBS:                    bbs,
		KickInterval:           time.Duration(cfg.CallbackKickIntervalMs) * time.Millisecond,
		ResolvingRenewInterval: cfg.ResolvingRenewInterval,
		DenyNetworks:           cfg.CallbackDenyNetworks,
		AllowLoopback:          cfg.AllowLoopbackCallbacks,
	}
	logger.Info("starting", lager.Data{"listen_address": api.Addr(), "https": cfg.TLSFiles.Enabled(),
		"debug_address": debug.Addr(), "version": version.Release()})
	members := grouper.Members{
		{Name: "debug-server", Runner: debug},
		{Name: "task-callbacks", Runner: callbacks},
	}
	if sshServer != nil {
		members = append(members, grouper.Member{Name: "ssh-server", Runner: sshServer})
	}
	members = append(members,
		grouper.Member{Name: "api-server", Runner: api},
		grouper.Member{Name: "event-streams", Runner: handler}, // stops first, ending open streams
	)
	group := grouper.NewOrdered(os.Interrupt, members)
	process := ifrit.Invoke(sigmon.New(group))
	err = <-process.Wait()
	logger.Info("exited", lager.Data{"error": fmt.Sprint(err)})
	return err
}

// newSSHServer listens for `diego ssh`; it reaches reps with the receptor's
// BBS certificate (its role, receptor, is the one the reps let in).
func newSSHServer(cfg Config, logger lager.Logger, bbs sshd.BBS) (*sshd.Server, error) {
	hostKey, err := sshd.LoadOrMakeHostKey(cfg.SSHHostKeyFile)
	if err != nil {
		return nil, err
	}
	key := []byte(cfg.SSHCodeKey)
	if len(key) == 0 {
		if key, err = sshd.NewKey(); err != nil {
			return nil, err
		}
	}
	repHTTP, err := transport.NewClient(cfg.BBSTLS, 0) // sessions last as long as their users
	if err != nil {
		return nil, err
	}
	s := &sshd.Server{
		Logger: logger.Session("sshd"), HostKey: hostKey, BBS: bbs,
		Codes:   &sshd.Codes{Key: key, TTL: cfg.SSHCodeTTL, Clock: clock.NewClock()},
		RepHTTP: repHTTP, RepScheme: cfg.BBSTLS.Scheme(), AdvertiseHost: cfg.SSHAdvertiseHost,
	}
	if err := s.Listen(cfg.SSHListenAddress); err != nil {
		return nil, err
	}
	return s, nil
}
