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

	It("adds each machine's own addresses to the certificate of what it runs", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "certs")
		Expect(run("--dir", dir, "--roles", "bbs", "--cells", "cell-a", "--hosts", "127.0.0.1",
			"--host", "rep-cell-a=10.0.2.1,cell-a.internal", "--host", "bbs=10.0.1.1")).To(Succeed())
		rep, bbs := leaf(dir, certs.Rep("cell-a")), leaf(dir, certs.Of("bbs"))
		Expect(rep.VerifyHostname("10.0.2.1")).To(Succeed())
		Expect(rep.VerifyHostname("cell-a.internal")).To(Succeed())
		Expect(rep.VerifyHostname("127.0.0.1")).To(Succeed())
		Expect(rep.VerifyHostname("10.0.1.1")).NotTo(Succeed())
		Expect(bbs.VerifyHostname("10.0.1.1")).To(Succeed())
		Expect(bbs.VerifyHostname("10.0.2.1")).NotTo(Succeed())
		Expect(run("--dir", dir, "--roles", "bbs", "--host", "router=10.0.3.1")).To(MatchError(ContainSubstring(`no certificate "router"`)))
		Expect(run("--dir", dir, "--roles", "bbs", "--host", "bbs")).To(MatchError(ContainSubstring("want NAME=HOST")))
	})

	It("refuses an unknown role, and a rep without a cell", func() {
		dir := GinkgoT().TempDir()
		Expect(run("--dir", dir, "--roles", "root")).To(MatchError(ContainSubstring(`unknown role "root"`)))
		Expect(run("--dir", dir, "--roles", "rep")).To(MatchError(ContainSubstring("--cells")))
	})
})

func leaf(dir string, id certs.Identity) *x509.Certificate {
	data, err := os.ReadFile(certs.FilesIn(dir, id).Cert)
	Expect(err).NotTo(HaveOccurred())
	block, _ := pem.Decode(data)
	Expect(block).NotTo(BeNil())
	cert, err := x509.ParseCertificate(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return cert
}
