package config_test

import (
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/config"
)

// checked is a config whose Validate reports through config.Problems.
type checked struct {
	Name     string
	Interval time.Duration
	Timeout  time.Duration
	Inner    error // what a nested config's Validate said
}

func (c checked) Validate() error {
	var p config.Problems
	p.Check(c.Name != "", "name", "is required")
	p.Positive(map[string]time.Duration{"interval": c.Interval, "timeout": c.Timeout})
	p.Nest("executor", c.Inner)
	return p.Err()
}

var _ = Describe("Validating a config", func() {
	It("passes a config with nothing wrong", func() {
		Expect(checked{Name: "n", Interval: time.Second, Timeout: time.Second}.Validate()).To(Succeed())
	})

	It("reports every mistake at once, each naming its field", func() {
		inner := errors.Join(&config.FieldError{Field: "cell_id", Problem: "is required"}, fmt.Errorf("something else"))
		err := checked{Interval: -time.Second, Inner: inner}.Validate()
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("name is required"))
		Expect(err.Error()).To(ContainSubstring("interval must be positive, not -1s"))
		Expect(err.Error()).To(ContainSubstring("timeout must be positive, not 0s"))
		Expect(err.Error()).To(ContainSubstring("executor.cell_id is required"))
		Expect(err.Error()).To(ContainSubstring("executor: something else"))

		var invalid *config.Invalid
		Expect(errors.As(err, &invalid)).To(BeTrue())
		var fields []string
		for _, e := range invalid.Errs {
			var fe *config.FieldError
			if errors.As(e, &fe) {
				fields = append(fields, fe.Field)
			}
		}
		Expect(fields).To(Equal([]string{"name", "interval", "timeout", "executor.cell_id"}))
	})
})
