package models_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = DescribeTable("CPUPercent",
	func(prev, cur models.ContainerMetrics, want float64) {
		Expect(models.CPUPercent(prev, cur)).To(BeNumerically("~", want, 0.001))
	},
	Entry("one core busy for the whole interval", models.ContainerMetrics{CPUNanos: 1e9, Timestamp: 10e9}, models.ContainerMetrics{CPUNanos: 6e9, Timestamp: 15e9}, 100.0),
	Entry("a quarter of a core", models.ContainerMetrics{CPUNanos: 0, Timestamp: 1e9}, models.ContainerMetrics{CPUNanos: 1e9, Timestamp: 5e9}, 25.0),
	Entry("two cores", models.ContainerMetrics{CPUNanos: 0, Timestamp: 1e9}, models.ContainerMetrics{CPUNanos: 2e9, Timestamp: 2e9}, 200.0),
	Entry("no earlier sample", models.ContainerMetrics{}, models.ContainerMetrics{CPUNanos: 5e9, Timestamp: 5e9}, 0.0),
	Entry("samples out of order", models.ContainerMetrics{CPUNanos: 1, Timestamp: 5e9}, models.ContainerMetrics{CPUNanos: 2, Timestamp: 4e9}, 0.0),
	Entry("the counter went backwards (a new container)", models.ContainerMetrics{CPUNanos: 9e9, Timestamp: 1e9}, models.ContainerMetrics{CPUNanos: 1e9, Timestamp: 2e9}, 0.0),
)
