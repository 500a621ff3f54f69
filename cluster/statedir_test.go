package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/reach"
)

var _ = Describe("Preparing the state dir", func() {
	var base string
	var cfg Config

	mode := func(dir string) fs.FileMode {
		GinkgoHelper()
		st, err := os.Stat(dir)
		Expect(err).NotTo(HaveOccurred())
		return st.Mode().Perm()
	}

	BeforeEach(func() {
		var err error
		base, err = os.MkdirTemp("/tmp", "cluster-statedir-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, base)
		Expect(os.Chmod(base, 0o755)).To(Succeed())
		cfg = DefaultConfig()
		cfg.Cells, cfg.Zones = 2, 2
		cfg.StateDir = filepath.Join(base, "parent", "state")
	})

	It("gives each cell its own uid range, as its garden config says", func() {
		c := &Cluster{Config: cfg}
		docs, err := c.daemonConfigs()
		Expect(err).NotTo(HaveOccurred())
		Expect(docs["cell-1-garden"]["uid_map_start"]).To(BeEquivalentTo(100000))
		Expect(docs["cell-1-garden"]["uid_range_count"]).To(BeEquivalentTo(DefaultCellContainers))
		By("spacing cells so that no container range of one overlaps another's")
		Expect(docs["cell-2-garden"]["uid_map_start"]).To(BeEquivalentTo(100000 + (DefaultCellContainers+1)*65536))
	})

	DescribeTable("refuses what was there before and keeps a cell's containers out, naming it",
		func(prepare func(parent, state string), blocked func(parent, state string) string, fix string) {
			parent := filepath.Dir(cfg.StateDir)
			prepare(parent, cfg.StateDir)
			err := prepareStateDir(cfg)
			var be *reach.BlockedError
			Expect(errorAs(err, &be)).To(BeTrue(), "%v", err)
			Expect(be.Dir).To(Equal(blocked(parent, cfg.StateDir)))
			Expect(err).To(MatchError(HavePrefix("containers cannot reach " + cfg.StateDir + "/cells/cell-1/garden: " + be.Dir + " (mode")))
			Expect(err).To(MatchError(HaveSuffix("or choose a --state-dir under directories others may search (such as /var/lib/diego)")))
			Expect(err).To(MatchError(ContainSubstring("'chmod " + fix + " " + be.Dir + "'")))
			Expect(filepath.Join(cfg.StateDir, "cells")).NotTo(BeADirectory(), "nothing created")
		},
		Entry("a 0700 parent (mktemp -d)",
			func(parent, _ string) { Expect(os.Mkdir(parent, 0o700)).To(Succeed()) },
			func(parent, _ string) string { return parent }, "o+x"),
		Entry("a 0750 parent of root's group",
			func(parent, _ string) { Expect(os.Mkdir(parent, 0o750)).To(Succeed()) },
			func(parent, _ string) string { return parent }, "o+x"),
		Entry("a 0700 state dir the user made",
			func(parent, state string) {
				Expect(os.Mkdir(parent, 0o755)).To(Succeed())
				Expect(os.Mkdir(state, 0o700)).To(Succeed())
			},
			func(_, state string) string { return state }, "o+x"),
		Entry("a parent the first cell's root owns but may not search",
			func(parent, _ string) {
				Expect(os.Mkdir(parent, 0o755)).To(Succeed())
				Expect(os.Chown(parent, 100000+65536, 0)).To(Succeed()) // cell 1's first container root
				Expect(os.Chmod(parent, 0o655)).To(Succeed())
			},
			func(parent, _ string) string { return parent }, "u+x"),
	)

	It("checks every cell's uid range, not only the first", func() {
		parent := filepath.Dir(cfg.StateDir)
		Expect(os.Mkdir(parent, 0o700)).To(Succeed())
		first := int(cfg.CellLayout(0).UIDMapStart) + 65536 // cell 1's first container root
		Expect(os.Chown(parent, first, first)).To(Succeed())
		err := prepareStateDir(cfg)
		Expect(err).To(MatchError(ContainSubstring("cells/cell-2/garden: " + parent)))
		Expect(err).To(MatchError(ContainSubstring(fmt.Sprintf("host uid %d", cfg.CellLayout(1).UIDMapStart+65536))))
	})

	It("creates a missing state dir and the cells' directories searchable, whatever the umask", func() {
		old := syscall.Umask(0o077)
		defer syscall.Umask(old)
		Expect(prepareStateDir(cfg)).To(Succeed())
		for _, dir := range []string{filepath.Dir(cfg.StateDir), cfg.StateDir, filepath.Join(cfg.StateDir, "cells"),
			cfg.CellLayout(0).StateDir, cfg.CellLayout(1).StateDir} {
			Expect(mode(dir)).To(Equal(fs.FileMode(0o755)), dir)
		}
	})

	It("opens the cells' directories a previous run left closed, since they are its own", func() {
		Expect(prepareStateDir(cfg)).To(Succeed())
		Expect(os.Chmod(cfg.CellLayout(1).StateDir, 0o700)).To(Succeed())
		Expect(prepareStateDir(cfg)).To(Succeed())
		Expect(mode(cfg.CellLayout(1).StateDir)).To(Equal(fs.FileMode(0o755)))
	})
})

func errorAs(err error, target any) bool { return errors.As(err, target) }
