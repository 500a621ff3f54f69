package version

import (
	"runtime/debug"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestVersion(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Version Suite")
}

var _ = Describe("Release", func() {
	It("is the version linked in by the build when there is one", func() {
		DeferCleanup(func(old string) { release = old }, release)
		release = "v1.2.3-4-gabcdef"
		Expect(Release()).To(Equal("v1.2.3-4-gabcdef"))
	})

	DescribeTable("falls back on what the Go toolchain stamped into the binary",
		func(settings []debug.BuildSetting, want string) {
			main := debug.Module{Path: "github.com/diego-runtime/diego", Version: "(devel)"}
			Expect(fromBuildInfo(&debug.BuildInfo{Main: main, Settings: settings})).To(Equal(want))
		},
		Entry("a clean checkout: the revision",
			[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}, "abc123"),
		Entry("a tree with changes: the revision, marked dirty",
			[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}, "abc123-dirty"),
		Entry("no version control: the module version", nil, "(devel)"),
	)
})
