package cli_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/cli"
	"github.com/diego-runtime/diego/internal/certs"
)

var _ = Describe("diego certs", func() {
	run := func(args ...string) error {
		root := cli.NewRoot()
		root.SetOut(&bytes.Buffer{})
		root.SetArgs(append([]string{"certs"}, args...))
		return root.Execute()
	}

	It("writes a CA and a certificate per role and per cell's rep, valid for the hosts, keys 0600", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "certs")
		Expect(run("--dir", dir, "--roles", "bbs,receptor", "--cells", "cell-a,cell-b", "--hosts", "10.0.0.5,bbs.internal")).To(Succeed())
		for _, id := range []certs.Identity{certs.Of("bbs"), certs.Of("receptor"), certs.Rep("cell-a"), certs.Rep("cell-b")} {
			f := certs.FilesIn(dir, id)
			info, err := os.Stat(f.Key)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)))
			data, err := os.ReadFile(f.Cert)
			Expect(err).NotTo(HaveOccurred())
			block, _ := pem.Decode(data)
			cert, err := x509.ParseCertificate(block.Bytes)
			Expect(err).NotTo(HaveOccurred())
			Expect(certs.IdentityOf(cert)).To(Equal(id))
			Expect(cert.VerifyHostname("10.0.0.5")).To(Succeed())
			Expect(cert.VerifyHostname("bbs.internal")).To(Succeed())
		}
		Expect(filepath.Join(dir, "router.crt")).NotTo(BeAnExistingFile())
	})

	It("refuses an unknown role, and a rep without a cell", func() {
		dir := GinkgoT().TempDir()
		Expect(run("--dir", dir, "--roles", "root")).To(MatchError(ContainSubstring(`unknown role "root"`)))
		Expect(run("--dir", dir, "--roles", "rep")).To(MatchError(ContainSubstring("--cells")))
	})
})
