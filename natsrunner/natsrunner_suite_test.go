package natsrunner_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestNatsrunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Natsrunner Suite")
}
