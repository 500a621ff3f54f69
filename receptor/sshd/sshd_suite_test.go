package sshd_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestSSHD(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Receptor SSH server Suite")
}
