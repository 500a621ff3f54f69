package reach_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/reach"
)

// containerRoot is how a garden with the default uid_map_start maps a
// container's root on the host.
var containerRoot = reach.Identity{UID: 100000, GID: 100000}

var _ = Describe("Reaching a container's directories", func() {
	DescribeTable("CanSearch applies the first class of mode bits that matches",
		func(mode fs.FileMode, uid, gid uint32, who reach.Identity, want bool) {
			Expect(reach.CanSearch(mode, uid, gid, who)).To(Equal(want))
		},
		Entry("others may search 0755", fs.FileMode(0o755), uint32(0), uint32(0), containerRoot, true),
		Entry("others may search 0711 without listing", fs.FileMode(0o711), uint32(0), uint32(0), containerRoot, true),
		Entry("others may not search 0700", fs.FileMode(0o700), uint32(0), uint32(0), containerRoot, false),
		Entry("others may not search 0750", fs.FileMode(0o750), uint32(0), uint32(0), containerRoot, false),
		Entry("the group's bits count for a member", fs.FileMode(0o750), uint32(0), uint32(100000), containerRoot, true),
		Entry("a member without the group's x is refused although others have it", fs.FileMode(0o705), uint32(0), uint32(100000), containerRoot, false),
		Entry("the owner's bits count for the owner", fs.FileMode(0o700), uint32(100000), uint32(0), containerRoot, true),
		Entry("an owner without the owner's x is refused although others have it", fs.FileMode(0o611), uint32(100000), uint32(0), containerRoot, false),
		Entry("host root may search anything", fs.FileMode(0o000), uint32(5), uint32(5), reach.Identity{}, true),
	)

	Describe("Check, on a real tree /base/parent/state/garden", func() {
		var base, parent, state, garden string

		BeforeEach(func() {
			var err error
			base, err = os.MkdirTemp("/tmp", "reach-")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(os.RemoveAll, base)
			Expect(os.Chmod(base, 0o755)).To(Succeed())
			parent = filepath.Join(base, "parent")
			state = filepath.Join(parent, "state")
			garden = filepath.Join(state, "garden")
			Expect(reach.MkdirAll(garden, 0o755)).To(Succeed())
		})

		DescribeTable("finds the first directory on the way that a container's root may not search",
			func(parentMode fs.FileMode, parentOwner, parentGroup int, stateMode fs.FileMode, blocked string) {
				Expect(os.Chown(parent, parentOwner, parentGroup)).To(Succeed())
				Expect(os.Chmod(parent, parentMode)).To(Succeed())
				Expect(os.Chmod(state, stateMode)).To(Succeed())
				err := reach.Check(garden, containerRoot)
				if blocked == "" {
					Expect(err).NotTo(HaveOccurred())
					return
				}
				var be *reach.BlockedError
				Expect(err).To(BeAssignableToTypeOf(be))
				be = err.(*reach.BlockedError)
				Expect(be.Path).To(Equal(garden))
				Expect(be.Dir).To(Equal(map[string]string{"parent": parent, "state": state}[blocked]))
				Expect(be.Who).To(Equal(containerRoot))
			},
			Entry("all 0755: reachable", fs.FileMode(0o755), 0, 0, fs.FileMode(0o755), ""),
			Entry("a 0711 parent: reachable, not listable", fs.FileMode(0o711), 0, 0, fs.FileMode(0o711), ""),
			Entry("a 0700 parent (mktemp -d): blocked at the parent", fs.FileMode(0o700), 0, 0, fs.FileMode(0o755), "parent"),
			Entry("a 0750 parent of another group: blocked at the parent", fs.FileMode(0o750), 0, 0, fs.FileMode(0o755), "parent"),
			Entry("a 0750 parent of the container's group: reachable", fs.FileMode(0o750), 0, 100000, fs.FileMode(0o755), ""),
			Entry("a 0700 parent owned by the container's root: reachable", fs.FileMode(0o700), 100000, 0, fs.FileMode(0o755), ""),
			Entry("a 0601 parent owned by the container's root: blocked at the parent", fs.FileMode(0o601), 100000, 0, fs.FileMode(0o755), "parent"),
			Entry("a 0700 state dir under a good parent: blocked at the state dir", fs.FileMode(0o755), 0, 0, fs.FileMode(0o700), "state"),
		)

		It("counts the directory itself", func() {
			Expect(os.Chmod(garden, 0o700)).To(Succeed())
			err := reach.Check(garden, containerRoot)
			Expect(err).To(MatchError(ContainSubstring("containers cannot reach " + garden + ": " + garden + " (mode 0700, owner 0:0)")))
		})

		It("checks every identity given", func() {
			Expect(os.Chown(parent, 100000, 100000)).To(Succeed())
			Expect(os.Chmod(parent, 0o700)).To(Succeed())
			Expect(reach.Check(garden, containerRoot)).To(Succeed())
			secondCell := reach.Identity{UID: 165536, GID: 165536}
			err := reach.Check(garden, containerRoot, secondCell)
			Expect(err).To(MatchError(ContainSubstring("does not let host uid 165536")))
		})

		It("checks only the part of the path that exists", func() {
			Expect(reach.Check(filepath.Join(garden, "images", "layers"), containerRoot)).To(Succeed())
			Expect(os.Chmod(parent, 0o700)).To(Succeed())
			err := reach.Check(filepath.Join(garden, "images"), containerRoot)
			Expect(err).To(MatchError(HavePrefix("containers cannot reach " + filepath.Join(garden, "images") + ": " + parent + " (mode 0700")))
		})

		It("follows a symbolic link to the directory it names", func() {
			Expect(os.Chmod(parent, 0o700)).To(Succeed())
			link := filepath.Join(base, "link")
			Expect(os.Symlink(state, link)).To(Succeed())
			err := reach.Check(filepath.Join(link, "garden"), containerRoot)
			var be *reach.BlockedError
			Expect(err).To(BeAssignableToTypeOf(be))
			Expect(err.(*reach.BlockedError).Dir).To(Equal(parent))
		})

		It("names the chmod that lets the container's root through", func() {
			Expect(os.Chmod(parent, 0o700)).To(Succeed())
			Expect(reach.Check(garden, containerRoot)).To(MatchError(ContainSubstring("fix: 'chmod o+x " + parent + "'")))
			Expect(os.Chown(parent, 0, 100000)).To(Succeed())
			Expect(reach.Check(garden, containerRoot)).To(MatchError(ContainSubstring("fix: 'chmod g+x " + parent + "'")))
		})
	})

	Describe("MkdirAll", func() {
		It("creates what is missing with the mode asked for, whatever the umask, and leaves the rest", func() {
			base, err := os.MkdirTemp("/tmp", "reach-")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(os.RemoveAll, base)
			Expect(os.Chmod(base, 0o700)).To(Succeed())

			old := syscall.Umask(0o077)
			defer syscall.Umask(old)
			dir := filepath.Join(base, "a", "b")
			Expect(reach.MkdirAll(dir, 0o755)).To(Succeed())
			for _, d := range []string{filepath.Join(base, "a"), dir} {
				st, err := os.Stat(d)
				Expect(err).NotTo(HaveOccurred())
				Expect(st.Mode().Perm()).To(Equal(fs.FileMode(0o755)), d)
			}
			st, err := os.Stat(base)
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Mode().Perm()).To(Equal(fs.FileMode(0o700)), "an existing directory is not ours to change")
		})
	})
})
