package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/uuid"
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

		BeforeEach(func() { host = registryWithTestApp("demo:latest") })

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

		It("gives each app its own UUID as log and metrics guid, so gorouter's X-CF-App-Instance names it", func() {
			built, err := cli.DesiredLRPFor("web", host+"/demo:latest")
			Expect(err).NotTo(HaveOccurred())
			lrp := built.(*models.DesiredLRP)
			id, err := uuid.Parse(lrp.LogGuid)
			Expect(err).NotTo(HaveOccurred())
			Expect(id.Version()).To(Equal(uuid.Version(4)))
			Expect(lrp.MetricsGuid).To(Equal(lrp.LogGuid))
			again, err := cli.DesiredLRPFor("web", host+"/demo:latest")
			Expect(err).NotTo(HaveOccurred())
			Expect(again.(*models.DesiredLRP).LogGuid).NotTo(Equal(lrp.LogGuid))
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

	Describe("logs APP", func() {
		// The receptor is this unit's neighbour: a stand-in answers its
		// desired LRP lookups as the real one does.
		var target string
		BeforeEach(func() {
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/v1/desired_lrps/web":
					json.NewEncoder(w).Encode(models.DesiredLRP{ProcessGuid: "web", LogGuid: "4f1c1c6e-app-id"})
				case "/v1/desired_lrps/old":
					json.NewEncoder(w).Encode(models.DesiredLRP{ProcessGuid: "old"})
				case "/v1/desired_lrps/broken":
					w.WriteHeader(http.StatusInternalServerError)
					json.NewEncoder(w).Encode(models.ErrUnknown.WithMessage("etcd is down"))
				default:
					w.WriteHeader(http.StatusNotFound)
					json.NewEncoder(w).Encode(models.ErrDesiredLRPNotFound.WithMessage("no %s", r.URL.Path))
				}
			}))
			DeferCleanup(server.Close)
			target = server.URL
		})

		DescribeTable("streams the log guid the name maps to",
			func(name, logGuid string) {
				Expect(cli.LogGuidOf(target, name)).To(Equal(logGuid))
			},
			Entry("an app: its app id", "web", "4f1c1c6e-app-id"),
			Entry("an app without a log guid: its name", "old", "old"),
			Entry("no app by that name (a task's log guid): the name itself", "task-7", "task-7"),
		)

		It("says why it cannot look the name up", func() {
			_, err := cli.LogGuidOf(target, "broken")
			Expect(err).To(MatchError(ContainSubstring("finding the log guid of broken")))
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

// registryWithTestApp serves a registry for the spec holding the test app as
// REPO:TAG and returns its host.
func registryWithTestApp(repoTag string) string {
	GinkgoHelper()
	server := httptest.NewServer(registry.New())
	DeferCleanup(server.Close)
	host := strings.TrimPrefix(server.URL, "http://")
	binary := filepath.Join(GinkgoT().TempDir(), "httpapp")
	build := exec.Command("go", "build", "-o", binary, "../testapps/httpapp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	Expect(build.Run()).To(Succeed())
	Expect(cli.PushTestApp(binary, host+"/"+repoTag)).To(Succeed())
	return host
}
