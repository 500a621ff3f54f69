package linux_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/garden/linux"
)

// Chains of these specs live in the filter table, jumped to from nowhere, so
// they change no traffic; each spec removes its own.
var _ = Describe("iptables-restore runs", func() {
	const prefix = "dgrst-"
	chain := func(i int) string { return fmt.Sprintf("%s%d", prefix, i) }
	// declarations are n scripts, each making a chain of its own.
	declarations := func(n int) []string {
		var scripts []string
		for i := range n {
			scripts = append(scripts, fmt.Sprintf("*filter\n:%s - [0:0]\n-A %s -j RETURN\nCOMMIT\n", chain(i), chain(i)))
		}
		return scripts
	}
	ours := func() []string {
		out, err := exec.Command("iptables-save", "-t", "filter").Output()
		Expect(err).NotTo(HaveOccurred())
		var chains []string
		for _, line := range strings.Split(string(out), "\n") {
			if name, ok := strings.CutPrefix(line, ":"+prefix); ok {
				chains = append(chains, prefix+strings.Fields(name)[0])
			}
		}
		return chains
	}
	AfterEach(func() {
		var s strings.Builder
		s.WriteString("*filter\n")
		for _, c := range ours() {
			fmt.Fprintf(&s, ":%s - [0:0]\n-X %s\n", c, c)
		}
		s.WriteString("COMMIT\n")
		cmd := exec.Command("iptables-restore", "--noflush", "-w", "5")
		cmd.Stdin = strings.NewReader(s.String())
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(ours()).To(BeEmpty())
	})

	// all restores the scripts at once, from a goroutine each, and answers
	// each one's error.
	all := func(r *linux.Restorer, scripts []string) []error {
		errs := make([]error, len(scripts))
		var wg sync.WaitGroup
		for i, s := range scripts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.Restore(context.Background(), s)
			}()
		}
		wg.Wait()
		return errs
	}

	It("runs on nf_tables here, so scripts may share a run", func() {
		Expect(linux.NFTablesBackend()).To(BeTrue(), "the specs below expect iptables-restore (nf_tables)")
	})

	It("merges the scripts that queue while one runs, and applies every one", func() {
		r := linux.NewRestorer(true)
		for _, err := range all(r, declarations(16)) {
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(ours()).To(HaveLen(16))
		Expect(r.Runs()).To(BeNumerically("<", 16), "sixteen scripts at once took a process each")
	})

	It("gives a failing script its own error, and still applies the others", func() {
		r := linux.NewRestorer(true)
		broken := fmt.Sprintf("*filter\n-A %smissing -j RETURN\nCOMMIT\n", prefix)
		errs := all(r, append([]string{broken}, declarations(8)...))
		Expect(errs[0]).To(MatchError(ContainSubstring(prefix + "missing")))
		for _, err := range errs[1:] {
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(ours()).To(HaveLen(8))
	})

	It("runs each script in a process of its own when it may not merge (the legacy backend)", func() {
		r := linux.NewRestorer(false)
		for _, err := range all(r, declarations(6)) {
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(ours()).To(HaveLen(6))
		Expect(r.Runs()).To(BeEquivalentTo(6))
	})
})
