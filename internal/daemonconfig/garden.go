package daemonconfig

import (
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/garden/linux"
	"github.com/diego-runtime/diego/internal/config"
)

// Garden is garden's JSON config file: the daemon's fields (see
// linux.DaemonConfig and linux.Config, each documents its default) plus the
// debug server and log level.
type Garden struct {
	linux.DaemonConfig
	// DebugAddress serves /ping and /metrics. Default "127.0.0.1:17013".
	DebugAddress string `json:"debug_address"`
	// LogLevel is debug, info, error or fatal. Default "info".
	LogLevel string `json:"log_level"`
}

// DefaultGarden returns the defaults of every field.
func DefaultGarden() Garden {
	return Garden{DaemonConfig: linux.DefaultDaemonConfig(), DebugAddress: "127.0.0.1:17013", LogLevel: "info"}
}

// Validate reports every problem with the config.
func (c *Garden) Validate() error {
	var p config.Problems
	p.Add(c.DaemonConfig.Validate())
	if _, err := lager.LogLevelFromString(c.LogLevel); err != nil {
		p.Addf("log_level", "%v", err)
	}
	return p.Err()
}
