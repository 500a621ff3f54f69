package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("diego up with a state dir its containers cannot reach", func() {
	It("refuses at start, naming the 0700 parent and the fix, and leaves nothing behind", func() {
		// A parent as `mktemp -d` makes it, as in the report that led here.
		parent, err := os.MkdirTemp("/tmp", "diego-e2e-locked-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, parent)
		st, err := os.Stat(parent)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(BeEquivalentTo(0o700))
		stateDir := filepath.Join(parent, "state")

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Ports of their own (offset 3700): this suite's cluster holds 3000's.
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "diego"), "up", "--state-dir", stateDir, "--cells", "1", "--port-offset", "3700")
		// Should it start after all, stop it as Ctrl-C would, not with a kill
		// that leaves its cell behind.
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = time.Minute
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		Expect(ctx.Err()).NotTo(HaveOccurred(), "diego up started: %s", out.String())
		var exitErr *exec.ExitError
		Expect(err).To(BeAssignableToTypeOf(exitErr), errOut.String())
		Expect(err.(*exec.ExitError).ExitCode()).To(Equal(1))

		Expect(out.String()).To(BeEmpty(), "it refuses before saying it starts")
		// cell-1's uid_map_start is 100000; its first container's range,
		// the first a container's root is given, starts 65536 above it.
		Expect(errOut.String()).To(Equal("diego: containers cannot reach " + stateDir + "/cells/cell-1/garden: " + parent +
			" (mode 0700, owner 0:0) does not let host uid 165536 (a container's root) search it; fix: 'chmod o+x " + parent +
			"', or choose a --state-dir under directories others may search (such as /var/lib/diego)\n"))
		Expect(stateDir).NotTo(BeADirectory())
	})
})
