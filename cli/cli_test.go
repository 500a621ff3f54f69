package cli_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/cli"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("The diego CLI", func() {
	DescribeTable("turns what a user types into a rootfs URI",
		func(image, uri string) { Expect(cli.RootFSURI(image)).To(Equal(uri)) },
		Entry("a Docker Hub short name", "nginx", "docker:///library/nginx#latest"),
		Entry("a Docker Hub name with tag", "library/nginx:1.27", "docker:///library/nginx#1.27"),
		Entry("a private registry", "127.0.0.1:5000/app:v1", "docker://127.0.0.1:5000/app#v1"),
		Entry("a URI as it is", "docker:///busybox#1", "docker:///busybox#1"),
		Entry("an OCI layout", "oci:///images/app#v1", "oci:///images/app#v1"),
		Entry("a preloaded rootfs", "preloaded:cflinuxfs", "preloaded:cflinuxfs"),
	)

	Describe("create", func() {
		var host string

		BeforeEach(func() {
			server := httptest.NewServer(registry.New())
			DeferCleanup(server.Close)
			host = strings.TrimPrefix(server.URL, "http://")

			binary := filepath.Join(GinkgoT().TempDir(), "httpapp")
			build := exec.Command("go", "build", "-o", binary, "../testapps/httpapp")
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			Expect(build.Run()).To(Succeed())
			Expect(cli.PushTestApp(binary, host+"/demo:latest")).To(Succeed())
		})

		It("builds the run action and ports from the image's config, routed at APP.localhost", func() {
			built, err := cli.DesiredLRPFor("web", host+"/demo:latest", "--instances", "3", "--env", "A=1")
			Expect(err).NotTo(HaveOccurred())
			lrp := built.(*models.DesiredLRP)
			Expect(lrp.ProcessGuid).To(Equal("web"))
			Expect(lrp.RootFS).To(Equal("docker://" + host + "/demo#latest"))
			Expect(lrp.Instances).To(Equal(3))
			Expect(lrp.Action.Run.Path).To(Equal("/app/httpapp"))
			Expect(lrp.Ports).To(Equal([]uint32{8080}))
			Expect(lrp.Env).To(Equal([]models.EnvVar{{Name: "A", Value: "1"}}))
			Expect(lrp.CheckDefinition.Checks[0].TCPCheck.Port).To(Equal(uint32(8080)))
			Expect(string(lrp.Routes[models.CFRouterKey])).To(MatchJSON(`[{"hostnames":["web.localhost"],"port":8080}]`))
			Expect(lrp.Validate()).To(Succeed())
		})

		It("refuses a bad flag value in one line", func() {
			_, err := cli.DesiredLRPFor("web", host+"/demo:latest", "--health-check", "ping")
			Expect(err).To(MatchError(`--health-check must be tcp, http or none, not "ping"`))
			_, err = cli.DesiredLRPFor("web", host+"/demo:latest", "--env", "NOVALUE")
			Expect(err).To(MatchError(`--env "NOVALUE" is not NAME=value`))
		})

		It("says in one line that an image cannot be read", func() {
			_, err := cli.DesiredLRPFor("web", host+"/missing:latest")
			Expect(err).To(MatchError(HavePrefix("cannot read image " + host + "/missing:latest")))
		})
	})

	It("prints one readable line when the target is down", func() {
		root := cli.NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"list", "--target", "http://127.0.0.1:1"})
		err := root.Execute()
		Expect(err).To(MatchError(ContainSubstring("cannot reach the receptor at http://127.0.0.1:1")))
		Expect(strings.Count(err.Error(), "\n")).To(BeZero())
	})
})
