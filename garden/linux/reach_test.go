package linux_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"code.cloudfoundry.org/clock"
	"github.com/diego-runtime/diego/garden/linux"
	"github.com/diego-runtime/diego/garden/reach"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
)

// withUmask runs fn with the process's umask set to mask.
func withUmask(mask int, fn func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	fn()
}

var _ = Describe("starting where containers cannot reach", func() {
	var locked string

	BeforeEach(func() {
		// A parent as `mktemp -d` makes it: only root may search it.
		var err error
		locked, err = os.MkdirTemp(stateDir, "locked-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, locked)
		Expect(os.Chmod(locked, 0o700)).To(Succeed())
	})

	It("refuses a state_dir under a parent the containers' root may not search, naming the parent, before touching the network", func() {
		other := cfg
		other.StateDir = filepath.Join(locked, "g")
		other.BridgeName, other.ChainPrefix, other.CgroupParent = "dgreach", "", ""
		b, err := linux.New(logger, clock.NewClock(), other, store)
		Expect(err).NotTo(HaveOccurred())
		err = b.Start(context.Background())
		var blocked *reach.BlockedError
		Expect(errors.As(err, &blocked)).To(BeTrue(), "%v", err)
		Expect(blocked.Dir).To(Equal(locked))
		Expect(err).To(MatchError(ContainSubstring("garden state_dir: containers cannot reach " + other.StateDir)))
		Expect(err).To(MatchError(ContainSubstring("'chmod o+x " + locked + "'")))
		_, lerr := netlink.LinkByName("dgreach")
		Expect(lerr).To(HaveOccurred(), "no bridge was made")
	})

	It("creates the state_dir's missing parents searchable, whatever the umask", func() {
		Expect(os.Chmod(locked, 0o755)).To(Succeed())
		daemonCfg := linux.DefaultDaemonConfig()
		daemonCfg.Config = cfg
		daemonCfg.StateDir = filepath.Join(locked, "a", "b", "g")
		daemonCfg.ImageStoreDir = filepath.Join(locked, "a", "img", "store")
		withUmask(0o077, func() {
			_, err := linux.NewDaemon(logger, clock.NewClock(), daemonCfg)
			Expect(err).NotTo(HaveOccurred())
		})
		for _, d := range []string{"a", "a/img"} {
			st, err := os.Stat(filepath.Join(locked, d))
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Mode().Perm()).To(Equal(fs.FileMode(0o755)), d)
		}
		// The store itself lets containers' roots through and lists to no one.
		st, err := os.Stat(filepath.Join(locked, "a/img/store"))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(fs.FileMode(0o711)))
	})

	It("refuses an image_store_dir under a parent the containers' root may not search", func() {
		daemonCfg := linux.DefaultDaemonConfig()
		daemonCfg.Config = cfg
		daemonCfg.StateDir = filepath.Join(stateDir, "reach-g")
		DeferCleanup(os.RemoveAll, daemonCfg.StateDir)
		daemonCfg.ImageStoreDir = filepath.Join(locked, "img")
		_, err := linux.NewDaemon(logger, clock.NewClock(), daemonCfg)
		Expect(err).To(MatchError(ContainSubstring("garden image_store_dir: containers cannot reach")))
		Expect(err).To(MatchError(ContainSubstring(locked + " (mode 0700")))
	})
})
