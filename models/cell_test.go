package models_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Reaching a cell's rep from its presence", func() {
	DescribeTable("one rule for every caller",
		func(p models.CellPresence, scheme, want string) {
			Expect(p.RepEndpoint(scheme)).To(Equal(want))
		},
		Entry("rep_url wins", models.CellPresence{RepURL: "https://10.0.0.5:1800", RepAddress: "10.0.0.6:1800"}, "http", "https://10.0.0.5:1800"),
		Entry("a rep_address that is a URL is used as it is", models.CellPresence{RepAddress: "https://10.0.0.6:1800"}, "http", "https://10.0.0.6:1800"),
		Entry("host:port takes the caller's scheme", models.CellPresence{RepAddress: "10.0.0.6:1800"}, "https", "https://10.0.0.6:1800"),
		Entry("host:port without a scheme is plain HTTP", models.CellPresence{RepAddress: "10.0.0.6:1800"}, "", "http://10.0.0.6:1800"),
	)
})
