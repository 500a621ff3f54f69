// Package daemon holds what every daemon's main does the same way: a logger
// at the configured level, the debug server's handler, and the command line
// (-config, and -check and -describe for the release's tools).
package daemon

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/config"
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

// Defaults returns a fresh config holding every default, ready for
// config.LoadValid: the same value the daemon's run loads its file into.
type Defaults func() config.Validator

// Main parses the command line, calls run with the -config path and exits 1
// with one line naming the daemon if run fails.
//
// Given the daemon's Defaults, it also answers two questions without
// starting anything: -check loads and validates the -config file through
// the same loader run uses and exits 0 if the daemon would accept it (1 and
// every reason if not); -describe prints the config's properties and their
// defaults as JSON (config.Describe), from which the release writes each
// job's spec.
func Main(name string, run func(configPath string) error, defaults ...Defaults) {
	configPath := flag.String("config", "", "path to the JSON config file")
	check := flag.Bool("check", false, "load and validate -config, then exit: 0 if the daemon accepts it")
	describe := flag.Bool("describe", false, "print every config property and its default as JSON, then exit")
	flag.Parse()
	var err error
	switch {
	case (*check || *describe) && len(defaults) == 0:
		err = fmt.Errorf("-check and -describe are not wired for this daemon")
	case *describe:
		err = Describe(os.Stdout, defaults[0])
	case *check:
		if err = Check(*configPath, defaults[0]); err == nil {
			fmt.Printf("%s: %s is valid\n", name, *configPath)
		}
	default:
		err = run(*configPath)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Check loads path over the defaults and validates the result.
func Check(path string, defaults Defaults) error {
	if path == "" {
		return fmt.Errorf("-check needs -config")
	}
	return config.LoadValid(path, defaults())
}

// Describe writes the properties of the default config to w as JSON.
func Describe(w io.Writer, defaults Defaults) error {
	props, err := config.Describe(defaults())
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(props)
}
