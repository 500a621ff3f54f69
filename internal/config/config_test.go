package config_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/config"
)

func TestConfig(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Config Suite")
}

type inner struct {
	Every time.Duration `json:"every"`
}

type sample struct {
	Name     string                   `json:"name"`
	Interval time.Duration            `json:"interval"`
	Inner    inner                    `json:"inner"`
	List     []inner                  `json:"list"`
	Timeouts map[string]time.Duration `json:"timeouts"`
}

var _ = Describe("Loading a config over its defaults", func() {
	It("keeps defaults for absent fields and reads durations as Go duration strings", func() {
		cfg := sample{Name: "default", Interval: time.Minute, Inner: inner{Every: time.Second}}
		Expect(config.Decode([]byte(`{"interval": "30s", "inner": {"every": "5ms"}, "list": [{"every": "2m"}], "timeouts": {"a": "1h"}}`), &cfg)).To(Succeed())
		Expect(cfg.Name).To(Equal("default"))
		Expect(cfg.Interval).To(Equal(30 * time.Second))
		Expect(cfg.Inner.Every).To(Equal(5 * time.Millisecond))
		Expect(cfg.List).To(Equal([]inner{{Every: 2 * time.Minute}}))
		Expect(cfg.Timeouts).To(HaveKeyWithValue("a", time.Hour))
	})

	DescribeTable("refuses bad documents, naming the problem",
		func(doc, problem string) {
			cfg := sample{}
			Expect(config.Decode([]byte(doc), &cfg)).To(MatchError(ContainSubstring(problem)))
		},
		Entry("an unknown field", `{"intreval": "30s"}`, `unknown field "intreval"`),
		Entry("a bad duration", `{"inner": {"every": "soon"}}`, `inner.every`),
		Entry("a duration written as a number (a millisecond count left from an old _ms field)",
			`{"interval": 15000}`, `interval: a duration is a string such as "30s"`),
		Entry("a number duration in a list", `{"list": [{"every": 5}]}`, `list[0].every: a duration is a string`),
		Entry("a number duration in a map", `{"timeouts": {"a": 1}}`, `timeouts.a: a duration is a string`),
		Entry("the wrong type", `{"name": 3}`, `cannot unmarshal number`),
		Entry("not JSON", `{`, `unexpected end`),
	)
})

var _ = Describe("Writing a config", func() {
	It("writes durations as Go duration strings, everywhere, and reads back what it wrote", func() {
		cfg := sample{Name: "n", Interval: 90 * time.Second, Inner: inner{Every: 5 * time.Millisecond},
			List: []inner{{Every: time.Hour}}, Timeouts: map[string]time.Duration{"a": time.Minute}}
		data, err := config.Encode(&cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(data).To(MatchJSON(`{"name": "n", "interval": "1m30s", "inner": {"every": "5ms"},
			"list": [{"every": "1h0m0s"}], "timeouts": {"a": "1m0s"}}`))
		var back sample
		Expect(config.Decode(data, &back)).To(Succeed())
		Expect(back).To(Equal(cfg))
	})
})
