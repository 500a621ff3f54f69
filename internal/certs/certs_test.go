package certs_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/internal/certs"
)

func TestCerts(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on real daemons and containers: a loaded machine (CI, two cores) is slow.
	SetDefaultEventuallyTimeout(10 * time.Second)
	RunSpecs(t, "Certs Suite")
}

func readCert(path string) *x509.Certificate {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	block, _ := pem.Decode(data)
	Expect(block).NotTo(BeNil())
	cert, err := x509.ParseCertificate(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return cert
}

func mode(path string) os.FileMode {
	info, err := os.Stat(path)
	Expect(err).NotTo(HaveOccurred())
	return info.Mode().Perm()
}

var _ = Describe("A certificate set", func() {
	var dir string
	ids := []certs.Identity{certs.Of(certs.RoleBBS), certs.Of(certs.RoleReceptor), certs.Rep("cell-1")}

	BeforeEach(func() { dir = filepath.Join(GinkgoT().TempDir(), "certs") })

	It("gives every identity a certificate of the CA that names its role, with keys 0600", func() {
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids, Hosts: []string{"127.0.0.1", "cell-1.example"}})
		Expect(err).NotTo(HaveOccurred())
		ca := readCert(filepath.Join(dir, certs.CACertFile))
		Expect(ca.IsCA).To(BeTrue())
		Expect(mode(dir)).To(Equal(os.FileMode(0o700)))
		Expect(mode(filepath.Join(dir, certs.CAKeyFile))).To(Equal(os.FileMode(0o600)))
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		for _, id := range ids {
			files := certs.FilesIn(dir, id)
			Expect(mode(files.Key)).To(Equal(os.FileMode(0o600)), id.String())
			leaf := readCert(files.Cert)
			_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "cell-1.example",
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}})
			Expect(err).NotTo(HaveOccurred(), id.String())
			Expect(leaf.VerifyHostname("127.0.0.1")).To(Succeed())
			got, err := certs.IdentityOf(leaf)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(id))
			Expect(leaf.Subject.OrganizationalUnit).To(Equal([]string{id.Role}))
		}
		Expect(readCert(certs.FilesIn(dir, certs.Rep("cell-1")).Cert).URIs[0].String()).To(Equal("diego://role/rep/cell-1"))
	})

	It("keeps the CA and the certificates across runs, and remakes a certificate that lacks a new host", func() {
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		caBefore, _ := os.ReadFile(filepath.Join(dir, certs.CACertFile))
		bbsBefore, _ := os.ReadFile(certs.FilesIn(dir, ids[0]).Cert)
		_, err = certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		Expect(os.ReadFile(filepath.Join(dir, certs.CACertFile))).To(Equal(caBefore))
		Expect(os.ReadFile(certs.FilesIn(dir, ids[0]).Cert)).To(Equal(bbsBefore))

		_, err = certs.WriteSet(dir, certs.SetOptions{Identities: ids, Hosts: []string{"127.0.0.1", "10.0.0.7"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(os.ReadFile(filepath.Join(dir, certs.CACertFile))).To(Equal(caBefore))
		Expect(readCert(certs.FilesIn(dir, ids[0]).Cert).VerifyHostname("10.0.0.7")).To(Succeed())
	})

	It("tightens a key left with a wider mode", func() {
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		key := certs.FilesIn(dir, ids[0]).Key
		Expect(os.Chmod(key, 0o644)).To(Succeed())
		Expect(os.Chmod(filepath.Join(dir, certs.CAKeyFile), 0o644)).To(Succeed())
		_, err = certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		Expect(mode(key)).To(Equal(os.FileMode(0o600)))
		Expect(mode(filepath.Join(dir, certs.CAKeyFile))).To(Equal(os.FileMode(0o600)))
	})

	It("refuses a directory holding half a CA", func() {
		_, err := certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Remove(filepath.Join(dir, certs.CAKeyFile))).To(Succeed())
		_, err = certs.WriteSet(dir, certs.SetOptions{Identities: ids})
		Expect(err).To(MatchError(ContainSubstring("half a CA")))
	})

	DescribeTable("identities no certificate may name",
		func(id certs.Identity) {
			ca, err := certs.NewCA("test", certs.DefaultCAValidity)
			Expect(err).NotTo(HaveOccurred())
			_, err = ca.Issue(id, nil, certs.DefaultLeafValidity)
			Expect(err).To(HaveOccurred())
		},
		Entry("no role", certs.Identity{}),
		Entry("a rep without its cell", certs.Of(certs.RoleRep)),
		Entry("a cell id on another role", certs.Identity{Role: certs.RoleBBS, CellID: "cell-1"}),
		Entry("a slash in the cell id", certs.Rep("cell/1")),
	)

	It("reads no identity from a certificate without a diego role", func() {
		ca, err := certs.NewCA("test", certs.DefaultCAValidity)
		Expect(err).NotTo(HaveOccurred())
		_, err = certs.IdentityOf(ca.Cert)
		Expect(err).To(MatchError(certs.ErrNoIdentity))
	})
})
