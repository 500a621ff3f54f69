package daemonconfig

import (
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/routing/router"
)

// Router is the router's JSON config file: the router's own settings
// (listen_address, nats_urls, id, hosts, dial_timeout, prune_threshold,
// prune_interval, publisher_silence, tries, failed_endpoint_holdoff, start_message_interval,
// register_interval, shutdown_timeout; see router.Config for each default)
// plus where to serve /ping and /metrics, where to write the access log and
// how much to log.
type Router struct {
	router.Config
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17017".
	DebugAddress string `json:"debug_address"`
	// AccessLogPath is a file that gets one line per request; "" logs each
	// request as a lager event on stdout, "-" writes the lines to stdout.
	// Default "".
	AccessLogPath string `json:"access_log_path"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultRouter returns the defaults of every field.
func DefaultRouter() Router {
	return Router{Config: router.DefaultConfig(), DebugAddress: "127.0.0.1:17017", LogLevel: "info"}
}

// Validate reports every problem with the config.
func (c Router) Validate() error {
	var p config.Problems
	p.Check(c.DebugAddress != "", "debug_address", "is required")
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	p.Add(c.Config.Validate())
	return p.Err()
}
