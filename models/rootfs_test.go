package models_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("ParseRootFS", func() {
	digest := "sha256:" + strings.Repeat("0f", 32)

	DescribeTable("parses each scheme",
		func(uri string, want models.RootFSURI, ref string) {
			got, err := models.ParseRootFS(uri)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
			if got.Scheme == models.RootFSSchemeDocker {
				Expect(got.Reference()).To(Equal(ref))
			}
		},
		Entry("Docker Hub with a tag", "docker:///library/nginx#1.27",
			models.RootFSURI{Scheme: "docker", Path: "library/nginx", Tag: "1.27"}, "library/nginx:1.27"),
		Entry("Docker Hub without a tag", "docker:///busybox",
			models.RootFSURI{Scheme: "docker", Path: "busybox"}, "busybox"),
		Entry("a private registry with a port", "docker://registry.local:5000/team/app#v2.1",
			models.RootFSURI{Scheme: "docker", Host: "registry.local:5000", Path: "team/app", Tag: "v2.1"}, "registry.local:5000/team/app:v2.1"),
		Entry("a registry by IP without a tag", "docker://127.0.0.1:5000/app",
			models.RootFSURI{Scheme: "docker", Host: "127.0.0.1:5000", Path: "app"}, "127.0.0.1:5000/app"),
		Entry("a digest", "docker:///app#"+digest,
			models.RootFSURI{Scheme: "docker", Path: "app", Tag: digest}, "app@"+digest),
		Entry("repo components with separators", "docker:///my-org/my_app.v2#latest",
			models.RootFSURI{Scheme: "docker", Path: "my-org/my_app.v2", Tag: "latest"}, "my-org/my_app.v2:latest"),
		Entry("an OCI layout with a tag", "oci:///var/images/app#latest",
			models.RootFSURI{Scheme: "oci", Path: "/var/images/app", Tag: "latest"}, ""),
		Entry("an OCI layout without a tag", "oci:///var/images/app",
			models.RootFSURI{Scheme: "oci", Path: "/var/images/app"}, ""),
		Entry("a docker save archive", "docker-archive:///tmp/app.tar",
			models.RootFSURI{Scheme: "docker-archive", Path: "/tmp/app.tar"}, ""),
		Entry("a docker save archive picking an image", "docker-archive:///tmp/app.tar#app:v1",
			models.RootFSURI{Scheme: "docker-archive", Path: "/tmp/app.tar", Tag: "app:v1"}, ""),
		Entry("a preloaded rootfs", "preloaded:cflinuxfs4",
			models.RootFSURI{Scheme: "preloaded", Path: "cflinuxfs4"}, ""),
	)

	DescribeTable("refuses",
		func(uri, reason string) {
			_, err := models.ParseRootFS(uri)
			Expect(err).To(MatchError(ContainSubstring(reason)))
		},
		Entry("an http URL", "http://example.com/image", "unknown rootfs scheme"),
		Entry("no scheme", "/var/images/app", "unknown rootfs scheme"),
		Entry("a bare image name", "nginx:latest", "unknown rootfs scheme"),
		Entry("a misspelt scheme", "dokcer:///nginx", "unknown rootfs scheme"),
		Entry("docker without a repository", "docker:///", "invalid repository"),
		Entry("docker with an uppercase repository", "docker:///Nginx", "invalid repository"),
		Entry("docker with a double slash in the repository", "docker:///a//b", "invalid repository"),
		Entry("docker opaque", "docker:nginx", "must be docker:///repo"),
		Entry("docker with a bad tag", "docker:///nginx#-bad", "invalid tag"),
		Entry("docker with credentials", "docker://u:p@registry.local/app", "credentials"),
		Entry("docker with a query", "docker:///nginx?x=1", "query"),
		Entry("docker with an empty host and a port", "docker://:5000/app", "invalid registry host"),
		Entry("oci relative", "oci:images/app", "must be oci:///absolute/path"),
		Entry("oci with a host", "oci://host/images/app", "must be oci:///absolute/path"),
		Entry("oci root", "oci:///", "must be oci:///absolute/path"),
		Entry("docker-archive relative", "docker-archive:app.tar", "must be docker-archive:///absolute/path"),
		Entry("preloaded empty", "preloaded:", "must be preloaded:name"),
		Entry("preloaded with a path", "preloaded:///cflinuxfs4", "must be preloaded:name"),
		Entry("unparseable", "docker://[::1/x", "not a parseable URI"),
	)

	DescribeTable("RootFSProviders.Supports",
		func(p models.RootFSProviders, rootfs string, want bool) {
			Expect(p.Supports(rootfs)).To(Equal(want))
		},
		Entry("docker offers registry images", models.RootFSProviders{"docker": nil}, "docker:///nginx", true),
		Entry("docker offers OCI layouts", models.RootFSProviders{"docker": {}}, "oci:///x#t", true),
		Entry("docker offers archives", models.RootFSProviders{"docker": {}}, "docker-archive:///x.tar", true),
		Entry("no docker, no images", models.RootFSProviders{"preloaded": {"cflinuxfs4"}}, "docker:///nginx", false),
		Entry("a listed preloaded rootfs", models.RootFSProviders{"preloaded": {"a", "cflinuxfs4"}}, "preloaded:cflinuxfs4", true),
		Entry("an unlisted preloaded rootfs", models.RootFSProviders{"docker": nil, "preloaded": {"a"}}, "preloaded:b", false),
		Entry("an invalid rootfs", models.RootFSProviders{"docker": nil}, "ftp://x", false),
	)
})
