//go:build e2e

package multimachine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"code.cloudfoundry.org/lager/v3"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/natsrunner"
)

// memberEnv names the config file of an etcd member or NATS node that this
// binary is to run instead of the suite.
const memberEnv = "DIEGO_MULTIMACHINE_MEMBER"

// memberConfig is one member's config: exactly one of the two.
type memberConfig struct {
	Etcd *etcdrunner.Config `json:"etcd,omitempty"`
	NATS *natsrunner.Config `json:"nats,omitempty"`
}

// runMember runs the member its config file describes until SIGTERM or
// SIGINT; it returns the exit code.
func runMember(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		return 1
	}
	var cfg memberConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "member:", path, err)
		return 1
	}
	logger := lager.NewLogger("member")
	logger.RegisterSink(lager.NewWriterSink(os.Stdout, lager.INFO))
	var runner ifrit.Runner
	switch {
	case cfg.Etcd != nil:
		r, err := etcdrunner.New(*cfg.Etcd)
		if err != nil {
			fmt.Fprintln(os.Stderr, "member:", err)
			return 1
		}
		runner = r
	case cfg.NATS != nil:
		if err := cfg.NATS.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "member:", err)
			return 1
		}
		runner = natsrunner.New(logger, *cfg.NATS)
	default:
		fmt.Fprintln(os.Stderr, "member: neither etcd nor nats in", path)
		return 1
	}
	process := ifrit.Invoke(runner)
	logger.Info("ready", lager.Data{"config": path})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-signals:
		process.Signal(s)
		<-process.Wait()
		return 0
	case err := <-process.Wait():
		fmt.Fprintln(os.Stderr, "member exited:", err)
		return 1
	}
}
