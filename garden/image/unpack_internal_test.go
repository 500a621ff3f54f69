package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/diego-runtime/diego/garden/imagetest"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var _ = Describe("unpackLayer", func() {
	var dir string

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
	})

	unpack := func(entries ...imagetest.Entry) error {
		data, err := imagetest.Tar(entries...)
		Expect(err).NotTo(HaveOccurred())
		return unpackLayer(bytes.NewReader(data), dir, idShifter{})
	}

	stat := func(rel string) unix.Stat_t {
		var st unix.Stat_t
		ExpectWithOffset(1, unix.Lstat(filepath.Join(dir, rel), &st)).To(Succeed())
		return st
	}

	It("keeps modes including setuid and sticky bits", func() {
		Expect(unpack(
			imagetest.Dir("tmp", 0o1777),
			imagetest.File("bin/su", 0o4755, []byte("su")),
		)).To(Succeed())
		Expect(stat("tmp").Mode & 0o7777).To(Equal(uint32(0o1777)))
		Expect(stat("bin/su").Mode & 0o7777).To(Equal(uint32(0o4755)))
		Expect(stat("bin").Mode&0o7777).To(Equal(uint32(0o755)), "implied parents are 0755")
	})

	It("links hard links to the earlier entry", func() {
		Expect(unpack(
			imagetest.File("a", 0o644, []byte("data")),
			imagetest.Hardlink("b", "a"),
		)).To(Succeed())
		Expect(stat("a").Ino).To(Equal(stat("b").Ino))
	})

	It("replaces an entry that a later entry of the same name overrides", func() {
		Expect(unpack(
			imagetest.Dir("x", 0o755), imagetest.File("x/inner", 0o644, nil),
			imagetest.File("x", 0o600, []byte("now a file")),
		)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dir, "x"))).To(Equal([]byte("now a file")))
	})

	It("skips device nodes but keeps fifos and overlay-style 0/0 whiteouts", func() {
		Expect(unpack(
			imagetest.Entry{Path: "disk", Type: tar.TypeBlock, Mode: 0o600},
			imagetest.Entry{Path: "gone", Type: tar.TypeChar, Mode: 0o600},
			imagetest.Entry{Path: "pipe", Type: tar.TypeFifo, Mode: 0o600},
		)).To(Succeed())
		Expect(filepath.Join(dir, "disk")).NotTo(BeAnExistingFile())
		Expect(stat("gone").Mode & unix.S_IFMT).To(Equal(uint32(unix.S_IFCHR)))
		Expect(stat("pipe").Mode & unix.S_IFMT).To(Equal(uint32(unix.S_IFIFO)))
	})

	It("does not follow a symlink the layer replaces with a file", func() {
		outside := filepath.Join(GinkgoT().TempDir(), "victim")
		Expect(os.WriteFile(outside, []byte("untouched"), 0o644)).To(Succeed())
		Expect(unpack(
			imagetest.Symlink("link", outside),
			imagetest.File("link", 0o644, []byte("replaced")),
		)).To(Succeed())
		Expect(os.ReadFile(outside)).To(Equal([]byte("untouched")))
		Expect(os.ReadFile(filepath.Join(dir, "link"))).To(Equal([]byte("replaced")))
	})
})
