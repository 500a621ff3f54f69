package cli_test

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/cli"
)

var _ = Describe("An https receptor", func() {
	var server *httptest.Server
	var caPath string

	BeforeEach(func() {
		// A stand-in receptor: every list is empty.
		server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("[]\n"))
		}))
		DeferCleanup(server.Close)
		caPath = filepath.Join(GinkgoT().TempDir(), "ca.pem")
		Expect(os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}), 0o644)).To(Succeed())
	})

	run := func(args ...string) error {
		root := cli.NewRoot()
		root.SetOut(&bytes.Buffer{})
		root.SetArgs(append(args, "--target", server.URL))
		return root.Execute()
	}

	It("is refused without its CA", func() {
		Expect(run("list")).To(MatchError(ContainSubstring("certificate")))
	})

	It("is trusted with --ca-cert", func() {
		Expect(run("list", "--ca-cert", caPath)).To(Succeed())
	})

	It("is trusted with DIEGO_CA_CERT", func() {
		GinkgoT().Setenv("DIEGO_CA_CERT", caPath)
		Expect(run("list")).To(Succeed())
	})

	It("says in one line that the CA file is unreadable", func() {
		err := run("list", "--ca-cert", filepath.Join(caPath, "missing"))
		Expect(err).To(MatchError(ContainSubstring("--ca-cert")))
	})
})
