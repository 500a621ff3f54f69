package image

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("parseURI", func() {
	DescribeTable("understands every documented form",
		func(uri string, want source) {
			Expect(parseURI(uri)).To(Equal(want))
		},
		Entry("default registry, tag", "docker:///library/busybox#1.36",
			source{scheme: "docker", repository: "library/busybox", tag: "1.36"}),
		Entry("default registry, no tag means latest", "docker:///busybox",
			source{scheme: "docker", repository: "busybox", tag: "latest"}),
		Entry("private registry", "docker://registry.local:5000/team/app#v2",
			source{scheme: "docker", registry: "registry.local:5000", repository: "team/app", tag: "v2"}),
		Entry("digest", "docker:///busybox#sha256:abcd",
			source{scheme: "docker", repository: "busybox", digest: "sha256:abcd"}),
		Entry("OCI layout", "oci:///var/images/app#1.0",
			source{scheme: "oci", path: "/var/images/app", tag: "1.0"}),
		Entry("OCI layout without tag", "oci:///var/images/app",
			source{scheme: "oci", path: "/var/images/app"}),
		Entry("docker archive", "docker-archive:///var/images/app.tar",
			source{scheme: "docker-archive", path: "/var/images/app.tar"}),
		Entry("preloaded", "preloaded:cflinuxfs4",
			source{scheme: "preloaded", name: "cflinuxfs4"}),
	)
})

var _ = Describe("id shifting", func() {
	mappings := []IDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 65534, HostID: 200000, Size: 1}}

	DescribeTable("maps image ids to host ids",
		func(m []IDMapping, id, want int) {
			Expect(shift(m, id)).To(Equal(want))
		},
		Entry("no mapping keeps the id", nil, 2000, 2000),
		Entry("root", mappings, 0, 100000),
		Entry("inside the first range", mappings, 999, 100999),
		Entry("outside every range goes to the container's nobody", mappings, 5000, 200000),
		Entry("outside every range, nobody unmapped", mappings[:1], 5000, overflowID),
	)

	It("gives differently shifted layers different cache names", func() {
		plain := cacheName("sha256:x", idShifter{})
		shifted := cacheName("sha256:x", idShifter{uids: mappings, gids: mappings})
		Expect(plain).NotTo(Equal(shifted))
		Expect(plain).To(HaveLen(16))
	})
})

var _ = Describe("chainIDs", func() {
	It("chains each diff ID onto its parent's chain ID", func() {
		a := v1.Hash{Algorithm: "sha256", Hex: "aa"}
		b := v1.Hash{Algorithm: "sha256", Hex: "bb"}
		ids := chainIDs([]v1.Hash{a, b})
		Expect(ids[0]).To(Equal(a))
		// sha256("sha256:aa sha256:bb")
		Expect(ids[1].String()).To(Equal("sha256:" + sha256Hex("sha256:aa sha256:bb")))
	})
})
