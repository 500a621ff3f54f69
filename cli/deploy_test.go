package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/cli"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("deploy", func() {
	Describe("the update it sends", func() {
		var host string
		current := &models.DesiredLRP{ProcessGuid: "web", Ports: []uint32{8080}}

		BeforeEach(func() { host = registryWithTestApp("demo:v2") })

		It("names the new image and its command, and leaves everything not asked for as it is", func() {
			u, err := cli.DeployUpdateFor(current, host+"/demo:v2")
			Expect(err).NotTo(HaveOccurred())
			Expect(*u.RootFS).To(Equal("docker://" + host + "/demo#v2"))
			Expect(u.Action.Run.Path).To(Equal("/app/httpapp"))
			Expect(u.Env).To(BeNil())
			Expect(u.MemoryMB).To(BeNil())
			Expect(u.CheckDefinition).To(BeNil())
			Expect(u.RollPolicy).To(BeNil())
			Expect(u.Validate()).To(Succeed())
		})

		It("changes what the flags name", func() {
			u, err := cli.DeployUpdateFor(current, host+"/demo:v2", "-e", "V=2", "-m", "96", "--start-timeout", "5s",
				"--health-check", "http", "--health-endpoint", "/health", "--max-surge", "3", "--command", "/app/httpapp -v")
			Expect(err).NotTo(HaveOccurred())
			Expect(*u.Env).To(Equal([]models.EnvVar{{Name: "V", Value: "2"}}))
			Expect(*u.MemoryMB).To(Equal(96))
			Expect(*u.StartTimeout).To(Equal(uint(5)))
			Expect(u.CheckDefinition.Checks[0].HTTPCheck).To(Equal(&models.HTTPCheck{Port: 8080, Path: "/health"}))
			Expect(u.RollPolicy).To(Equal(&models.RollPolicy{MaxSurge: 3}))
			Expect(u.Action.Run).To(Equal(&models.RunAction{Path: "/app/httpapp", Args: []string{"-v"}}))
		})
	})

	Describe("waiting for the roll", func() {
		// The receptor is this unit's neighbour: a stand-in takes the PUT and
		// answers the roll's progress as the real one does.
		var target string
		var put atomic.Value
		serve := func(rolls ...models.RollStatus) {
			var polls atomic.Int32
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut {
					var u models.DesiredLRPUpdate
					Expect(json.NewDecoder(r.Body).Decode(&u)).To(Succeed())
					put.Store(u)
					w.WriteHeader(http.StatusNoContent)
					return
				}
				if strings.HasPrefix(r.URL.Path, "/v1/actual_lrps/") {
					json.NewEncoder(w).Encode([]models.ActualLRP{{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "web", Index: 0},
						State: models.ActualLRPStateUnclaimed, CrashCount: 1, CrashReason: "Exited with status 3"}})
					return
				}
				roll := rolls[min(int(polls.Add(1))-1, len(rolls)-1)]
				json.NewEncoder(w).Encode(models.DesiredLRP{ProcessGuid: "web", Instances: roll.Total, Ports: []uint32{8080}, Roll: &roll})
			}))
			DeferCleanup(server.Close)
			target = server.URL
		}
		deploy := func() (string, error) {
			var out bytes.Buffer
			root := cli.NewRootTo(&out)
			root.SetArgs([]string{"deploy", "web", "127.0.0.1:1/app:v2", "--command", "/app/x", "--target", target})
			err := root.Execute()
			return out.String(), err
		}

		It("draws the progress until every instance runs the new version", func() {
			serve(models.RollStatus{State: models.RollStateRolling, Updated: 0, Total: 2},
				models.RollStatus{State: models.RollStateRolling, Updated: 1, Total: 2},
				models.RollStatus{State: models.RollStateDone, Updated: 2, Total: 2})
			out, err := deploy()
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("1/2 updated"))
			Expect(out).To(ContainSubstring("web/0 crashed 1 time: Exited with status 3"), "a failing new instance is told")
			Expect(out).To(ContainSubstring("web: 2 instance(s) of the new version running"))
			Expect(*put.Load().(models.DesiredLRPUpdate).RootFS).To(Equal("docker://127.0.0.1:1/app#v2"))
		})

		It("gives up with the reason when the roll halts", func() {
			serve(models.RollStatus{State: models.RollStateHalted, Total: 2, Reason: "instance 0 of the new version crashed 2 times: Exited with status 3"})
			_, err := deploy()
			var halted *cli.RollHaltedError
			Expect(errors.As(err, &halted)).To(BeTrue(), "got %v", err)
			Expect(err).To(MatchError(ContainSubstring("the roll halted, the old instances keep serving: instance 0 of the new version crashed 2 times: Exited with status 3")))
		})
	})
})
