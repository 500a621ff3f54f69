// Package version names the build of Diego that is running, for
// GET /v1/version and the daemons' logs.
package version

import "runtime/debug"

// release is set at link time by the Makefile's build:
//
//	go build -ldflags "-X github.com/diego-runtime/diego/internal/version.release=$(git describe --always --dirty)"
var release string

// Release is the build's version: the one linked in by the Makefile, else the
// VCS revision the Go toolchain stamped into the binary (with "-dirty" when the
// tree had changes), else the main module's version ("(devel)" for a build
// without version control, such as a test binary).
func Release() string {
	if release != "" {
		return release
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	var revision string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return info.Main.Version
	}
	if modified {
		return revision + "-dirty"
	}
	return revision
}
