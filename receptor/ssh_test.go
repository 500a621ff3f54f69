package receptor_test

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/receptor/sshd"
)

// issuer stands in for the SSH server (receptor/sshd), a neighbour of the API.
type issuer struct{}

func (issuer) Issue(guid string, index int, host string) sshd.Access {
	return sshd.Access{Address: host, User: sshd.User(guid, index), Password: "code"}
}

var _ = Describe("POST /v1/actual_lrps/:guid/index/:i/ssh", func() {
	Context("with the SSH server on", func() {
		BeforeEach(func() { opts.SSH = issuer{} })

		It("issues a one-time login for that instance", func() {
			desire("web", "d", 2)
			resp := do("POST", "/v1/actual_lrps/web/index/1/ssh", "{}")
			Expect(resp.Status).To(Equal(http.StatusOK), string(resp.Body))
			Expect(decode[sshd.Access](resp).User).To(Equal("web/1"))
		})

		It("refuses an app that opted out with ssh_disabled", func() {
			resp := do("POST", "/v1/desired_lrps", strings.Replace(lrpJSON("sealed", "d", 1), `"annotation":"v1"`, `"annotation":"v1","ssh_disabled":true`, 1))
			Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
			Expect(expectError(do("POST", "/v1/actual_lrps/sealed/index/0/ssh", "{}"), http.StatusForbidden, "SSHDisabled")).To(ContainSubstring("ssh_disabled"))
			Expect(decode[map[string]any](do("GET", "/v1/desired_lrps/sealed", ""))).To(HaveKeyWithValue("ssh_disabled", true))
		})

		It("answers 404 for an app that does not exist", func() {
			expectError(do("POST", "/v1/actual_lrps/ghost/index/0/ssh", "{}"), http.StatusNotFound, "DesiredLRPNotFound")
		})
	})

	It("answers 403 when the operator turned SSH off (no ssh_listen_address)", func() {
		desire("web", "d", 1)
		Expect(expectError(do("POST", "/v1/actual_lrps/web/index/0/ssh", "{}"), http.StatusForbidden, "SSHDisabled")).To(ContainSubstring("turned off"))
	})
})
