package downloadcache_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestDownloadCache(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Download Cache Suite")
}
