// Package daemon holds what every daemon's main does the same way: a logger
// at the configured level, and the debug server's handler.
package daemon

import (
	"flag"
	"fmt"
	"os"

	"code.cloudfoundry.org/lager/v3"
)

// NewLogger returns a JSON-lines logger for component writing to stdout at
// level (debug, info, error or fatal).
func NewLogger(component, level string) (lager.Logger, error) {
	min, err := lager.LogLevelFromString(level)
	if err != nil {
		return nil, fmt.Errorf("log_level: %w", err)
	}
	logger := lager.NewLogger(component)
	logger.RegisterSink(lager.NewWriterSink(os.Stdout, min))
	return logger, nil
}

// Main parses -config, calls run with its path and exits 1 with one line
// naming the daemon if run fails.
func Main(name string, run func(configPath string) error) {
	configPath := flag.String("config", "", "path to the JSON config file")
	flag.Parse()
	if err := run(*configPath); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
