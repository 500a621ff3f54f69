package daemonconfig_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/config"
	"github.com/diego-runtime/diego/internal/daemonconfig"
)

func TestDaemonConfig(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Daemon Config Suite")
}

// required fills what no default can: the BBS's keys, the converger's and
// route emitter's etcd.
func bbs() daemonconfig.BBS {
	c := daemonconfig.DefaultBBS()
	c.Etcd.Endpoints = []string{"http://127.0.0.1:2379"}
	c.EncryptionKeys, c.ActiveKeyLabel = map[string]string{"k": "0123456789abcdef"}, "k"
	return c
}

func converger() daemonconfig.Converger {
	c := daemonconfig.DefaultConverger()
	c.BBSURLs = []string{"http://127.0.0.1:8889"}
	c.Etcd.Endpoints = []string{"http://127.0.0.1:2379"}
	return c
}

func receptor() daemonconfig.Receptor {
	c := daemonconfig.DefaultReceptor()
	c.ListenAddress = "127.0.0.1:8887"
	return c
}

var _ = Describe("Every daemon's config", func() {
	DescribeTable("accepts its defaults (with what is required filled in)",
		func(c config.Validator) { Expect(c.Validate()).To(Succeed()) },
		Entry("bbs", bbs()),
		Entry("auctioneer", daemonconfig.DefaultAuctioneer()),
		Entry("converger", converger()),
		Entry("receptor", receptor()),
		Entry("route-emitter", daemonconfig.DefaultRouteEmitter()),
		Entry("router", daemonconfig.DefaultRouter()),
	)

	DescribeTable("reports every mistake at once, each naming its field",
		func(c config.Validator, fields ...string) {
			err := c.Validate()
			Expect(err).To(HaveOccurred())
			for _, f := range fields {
				Expect(err).To(MatchError(ContainSubstring(f)))
			}
		},
		Entry("bbs", func() config.Validator {
			c := bbs()
			c.RequestTimeout, c.CallTimeout, c.MaxInstances, c.LogLevel, c.EncryptionKeys = 0, -time.Second, 0, "loud", nil
			return c
		}(), "request_timeout must be positive", "call_timeout must be positive", "max_instances", "log_level", "encryption_keys is required"),
		Entry("auctioneer", func() config.Validator {
			c := daemonconfig.DefaultAuctioneer()
			c.BBSURLs, c.BBSTimeout, c.LockTTL, c.RetryDelay = nil, 0, time.Second, 0
			return c
		}(), "bbs_urls is required", "bbs_timeout must be positive", "lock_ttl must be at least 2s", "retry_delay must be positive"),
		Entry("converger", func() config.Validator {
			c := converger()
			c.LockTTL, c.ConvergenceInterval, c.PendingTaskExpiry, c.Workers, c.Etcd.Endpoints = 10*time.Millisecond, 0, 0, 0, nil
			return c
		}(), "lock_ttl must be at least 1s", "convergence_interval must be positive", "pending_task_expiry must be positive",
			"workers must be positive", "etcd.endpoints is required"),
		Entry("receptor", func() config.Validator {
			c := receptor()
			c.BBSRequestTimeout, c.CallbackKickInterval, c.Password, c.LogsStream.Storage = 0, 0, "p", "tape"
			return c
		}(), "bbs_request_timeout must be positive", "callback_kick_interval must be positive", "password is set without a username",
			`logs_stream: storage must be "file" or "memory"`),
		Entry("route-emitter", func() config.Validator {
			c := daemonconfig.DefaultRouteEmitter()
			c.NATSURLs, c.LockTTL, c.BBSTimeout, c.LogLevel = nil, 0, 0, "loud"
			return c
		}(), "nats_urls is required", "lock_ttl must be at least 1s", "bbs_timeout must be positive", "log_level"),
		Entry("router", func() config.Validator {
			c := daemonconfig.DefaultRouter()
			c.DebugAddress, c.LogLevel, c.Tries = "", "loud", 0
			return c
		}(), "debug_address is required", "log_level", "tries must be at least 1"),
	)

	It("is written with durations as Go duration strings, and read back the same", func() {
		c := converger()
		data, err := config.Encode(c)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).To(ContainSubstring(`"lock_ttl": "15s"`))
		Expect(string(data)).To(ContainSubstring(`"pending_task_expiry": "30m0s"`))
		back := daemonconfig.DefaultConverger()
		Expect(config.Decode(data, &back)).To(Succeed())
		Expect(back).To(Equal(c))
	})
})
