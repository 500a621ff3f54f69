package config_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/config"
)

type Embedded struct {
	Shared string `json:"shared"`
}

type described struct {
	Embedded
	Name     string            `json:"name"`
	Interval time.Duration     `json:"interval"`
	Inner    inner             `json:"inner"`
	List     []inner           `json:"list"`
	Labels   map[string]string `json:"labels"`
	Ratio    float64           `json:"ratio"`
	On       bool              `json:"on,omitempty"`
	Count    int64             `json:"count"`
	Skipped  string            `json:"-"`
	hidden   string
}

var _ = Describe("Describing a config", func() {
	It("lists every property by dotted JSON name with its type, default and Go field, in declaration order", func() {
		cfg := described{Embedded: Embedded{Shared: "s"}, Name: "n", Interval: 90 * time.Second,
			Inner: inner{Every: time.Second}, Labels: map[string]string{"a": "b"}, Ratio: 0.5, Count: 7, hidden: "h"}
		props, err := config.Describe(&cfg)
		Expect(err).NotTo(HaveOccurred())
		type row struct {
			Name, Type string
			Default    any
		}
		var rows []row
		for _, p := range props {
			rows = append(rows, row{p.Name, p.Type, p.Default})
		}
		Expect(rows).To(Equal([]row{
			{"shared", "string", "s"},
			{"name", "string", "n"},
			{"interval", "duration", "1m30s"},
			{"inner.every", "duration", "1s"},
			{"list", "list", nil},
			{"labels", "object", map[string]any{"a": "b"}},
			{"ratio", "number", 0.5},
			{"on", "boolean", false},
			{"count", "integer", float64(7)},
		}))
		Expect(props[0].Declared).To(Equal(config.Declaration{
			Package: "github.com/diego-runtime/diego/internal/config_test", Type: "Embedded", Field: "Shared"}))
		Expect(props[3].Declared).To(Equal(config.Declaration{
			Package: "github.com/diego-runtime/diego/internal/config_test", Type: "inner", Field: "Every"}))
	})

	It("refuses what is not a struct", func() {
		_, err := config.Describe(3)
		Expect(err).To(MatchError(ContainSubstring("not a struct")))
	})
})
