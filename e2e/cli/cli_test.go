package cli_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/models"
)

// One top-level container, so its specs run in the order written and the
// shutdown spec comes last.
var _ = Describe("The diego command against a running cluster", func() {
	// runningCount is how many ORDINARY instances of app run, for Eventually.
	runningCount := func(app string) func() (int, error) {
		return func() (int, error) {
			running, err := w.RunningIndices(app)
			return len(running), err
		}
	}
	// answeringIndices collects which instance indices answer at host.
	answeringIndices := func(host string, tries int) map[int]bool {
		seen := map[int]bool{}
		for i := 0; i < tries; i++ {
			if in, err := w.GetInstance(host); err == nil {
				seen[in.Index] = true
			}
		}
		return seen
	}

	Describe("demo", func() {
		It("pushes the test app, runs it and leaves it routed", func() {
			out, errOut, code := w.CLI("demo", "--registry", w.RegistryHost, "--app", "demo", "--instances", "2")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(ContainSubstring("pushed " + w.RegistryHost + "/diego-demo:latest"))
			Expect(out).To(ContainSubstring("demo: 2 instance(s) running"))

			Expect(w.RunningIndices("demo")).To(HaveLen(2))
			Eventually(func() map[int]bool { return answeringIndices("demo.localhost", 6) }, 10*time.Second, 200*time.Millisecond).
				Should(Equal(map[int]bool{0: true, 1: true}))
		})

		It("run again, says the app exists, scales it up to what is asked, and prints the same next steps", func() {
			out, errOut, code := w.CLI("demo", "--registry", w.RegistryHost, "--app", "demo", "--instances", "3")
			Expect(code).To(Equal(0), errOut)
			Expect(errOut).To(BeEmpty())
			Expect(out).To(ContainSubstring("demo already exists, running " + world.RootFS(w.RegistryHost+"/diego-demo:latest")))
			Expect(out).To(ContainSubstring("scaled demo from 2 to 3 instance(s)"))
			Expect(out).To(ContainSubstring("demo: 3 instance(s) running"))
			Expect(out).To(ContainSubstring("try: curl http://demo.localhost:8080/"))

			desired, err := w.DesiredLRP("demo")
			Expect(err).NotTo(HaveOccurred())
			Expect(desired.Instances).To(Equal(3))
			Eventually(func() map[int]bool { return answeringIndices("demo.localhost", 9) }, 10*time.Second, 200*time.Millisecond).
				Should(Equal(map[int]bool{0: true, 1: true, 2: true}))
		})

		It("run a third time with fewer instances, leaves the app as it is and exits 0", func() {
			out, errOut, code := w.CLI("demo", "--registry", w.RegistryHost, "--app", "demo", "--instances", "1")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(ContainSubstring("demo already exists"))
			Expect(out).NotTo(ContainSubstring("scaled"))
			Expect(out).To(ContainSubstring("demo: 3 instance(s) running"))
			resp, err := w.Get("demo.localhost", "/")
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Status).To(Equal(http.StatusOK))
		})
	})

	Describe("demo on an app that crashed out", func() {
		It("restarts it at once rather than wait out its backoff, and it serves", func() {
			out, errOut, code := w.CLI("demo", "--registry", w.RegistryHost, "--app", "phoenix", "--instances", "1")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(ContainSubstring("phoenix: 1 instance(s) running"))

			crashCount := func() (int, error) {
				lrps, err := w.ActualLRPs("phoenix")
				if err != nil || len(lrps) == 0 {
					return -1, err
				}
				return lrps[0].CrashCount, nil
			}
			for crash := 1; crash <= 3; crash++ {
				Eventually(runningCount("phoenix"), 30*time.Second, 200*time.Millisecond).Should(Equal(1))
				Eventually(func() (int, error) {
					resp, err := w.Get("phoenix.localhost", "/exit?code=7")
					return resp.Status, err
				}, 10*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))
				Eventually(crashCount, 10*time.Second, 200*time.Millisecond).Should(Equal(crash))
			}
			lrps, err := w.ActualLRPs("phoenix")
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps[0].State).To(Equal(models.ActualLRPStateCrashed), "the third crash backs off 30 s")

			started := time.Now()
			out, errOut, code = w.CLI("demo", "--registry", w.RegistryHost, "--app", "phoenix", "--instances", "1")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(ContainSubstring("phoenix already exists"))
			Expect(out).To(ContainSubstring("restarting phoenix/0, which crashed 3 time(s): Exited with status 7"))
			Expect(out).To(ContainSubstring("phoenix: 1 instance(s) running"))
			Expect(time.Since(started)).To(BeNumerically("<", 25*time.Second), "it did not wait out the backoff")
			Eventually(func() (int, error) {
				resp, err := w.Get("phoenix.localhost", "/")
				return resp.Status, err
			}, 10*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))

			_, errOut, code = w.CLI("delete", "phoenix")
			Expect(code).To(Equal(0), errOut)
		})
	})

	Describe("waits that cannot succeed", func() {
		It("create gives up by the third crash of an app whose command exits 1, saying why", func() {
			busybox, err := w.PushBusybox()
			Expect(err).NotTo(HaveOccurred())
			started := time.Now()
			out, errOut, code := w.CLI("create", "crashy", busybox, "--command", "false", "--no-routes")
			Expect(code).To(Equal(1), out)
			Expect(time.Since(started)).To(BeNumerically("<", time.Minute))
			// Each change the wait saw is told once; a crash and the restart
			// after it can both fall between two of its looks, so the first
			// one told may already be the second crash.
			Expect(out).To(MatchRegexp(`crashy/0 crashed [12] times?: Exited with status 1`))
			Expect(out).To(ContainSubstring("crashy/0 crashed 3 times: Exited with status 1"))
			Expect(errOut).To(Equal("diego: crashy: every instance crashed 3 times or more: Exited with status 1\n"))

			// It stopped at the third crash: the BBS holds the instance
			// CRASHED for 30 s from there, so no fourth has come.
			lrps, err := w.ActualLRPs("crashy")
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(1))
			Expect(lrps[0].CrashCount).To(Equal(3))
			Expect(lrps[0].State).To(Equal(models.ActualLRPStateCrashed))

			// diego demo under its name replaces it: an app's image cannot change in place.
			out, errOut, code = w.CLI("demo", "--registry", w.RegistryHost, "--app", "crashy", "--instances", "1")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(ContainSubstring("crashy exists but runs " + world.RootFS(busybox) + ": replacing it"))
			Expect(out).To(ContainSubstring("crashy: 1 instance(s) running"))
			desired, err := w.DesiredLRP("crashy")
			Expect(err).NotTo(HaveOccurred())
			Expect(desired.RootFS).To(Equal(world.RootFS(w.RegistryHost + "/diego-demo:latest")))

			_, errOut, code = w.CLI("delete", "crashy")
			Expect(code).To(Equal(0), errOut)
		})

		It("create gives up when no cell can place an instance, with the placement error", func() {
			busybox, err := w.PushBusybox()
			Expect(err).NotTo(HaveOccurred())
			started := time.Now()
			out, errOut, code := w.CLI("create", "huge", busybox, "--command", "sleep 100",
				"--memory", "10000000", "--no-routes", "--health-check", "none")
			Expect(code).To(Equal(1), out)
			Expect(time.Since(started)).To(BeNumerically("<", 30*time.Second))
			Expect(out).To(ContainSubstring("huge/0 cannot be placed: insufficient resources: "))
			Expect(errOut).To(MatchRegexp(`^diego: huge: 1 instance\(s\) cannot be placed: insufficient resources: .*\n$`))
			_, errOut, code = w.CLI("delete", "huge")
			Expect(code).To(Equal(0), errOut)
		})
	})

	Describe("an app's life", Ordered, func() {
		var image string

		BeforeAll(func() {
			var err error
			image, err = w.PushTestApp()
			Expect(err).NotTo(HaveOccurred())
		})

		It("create starts the app, routed at APP.localhost with its env", func() {
			out, errOut, code := w.CLI("create", "web", image, "--env", "GREETING=hello")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(HavePrefix("created web: 1 instance(s) of " + world.RootFS(image) + ", routed at web.localhost\n"))
			Expect(out).To(MatchRegexp(`web: 1 instance\(s\) running \(\d+\.\ds\)\n$`))

			desired, err := w.DesiredLRP("web")
			Expect(err).NotTo(HaveOccurred())
			Expect(desired.Instances).To(Equal(1))
			Expect(desired.Action.Run.Path).To(Equal("/app/httpapp"))

			Eventually(runningCount("web"), 30*time.Second, 200*time.Millisecond).Should(Equal(1))
			Eventually(func() (string, error) {
				resp, err := w.Get("web.localhost", "/env")
				return string(resp.Body), err
			}, 10*time.Second, 200*time.Millisecond).Should(ContainSubstring(`"GREETING":"hello"`))
		})

		It("scale waits, drawing progress, until every instance runs, and spreads them over both zones", func() {
			out, errOut, code := w.CLI("scale", "web", "3")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(ContainSubstring("3/3 running"))
			Expect(out).To(MatchRegexp(`\[=+\s*\] \d/3 running`))
			Expect(out).To(MatchRegexp(`web: 3 instance\(s\) running \(\d+\.\ds\)\n$`))

			running, err := w.RunningIndices("web")
			Expect(err).NotTo(HaveOccurred())
			Expect(running).To(HaveLen(3))
			cells := map[string]bool{}
			for _, a := range running {
				cells[a.CellID] = true
			}
			Expect(cells).To(HaveLen(2))
			Eventually(func() map[int]bool { return answeringIndices("web.localhost", 9) }, 10*time.Second, 200*time.Millisecond).
				Should(Equal(map[int]bool{0: true, 1: true, 2: true}))
		})

		It("status shows each instance with its cell, zone, state and address", func() {
			out, errOut, code := w.CLI("status", "web")
			Expect(code).To(Equal(0), errOut)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			Expect(lines[0]).To(Equal("web: 3 instance(s) of " + world.RootFS(image) + ", routes web.localhost"))
			Expect(lines[1]).To(MatchRegexp(`^INDEX\s+STATE\s+CELL\s+ZONE\s+ADDRESS\s+CPU\s+MEM\s+DISK\s+CRASHES\s+UPTIME`))
			Expect(lines[2:]).To(HaveLen(3))

			running, err := w.RunningIndices("web")
			Expect(err).NotTo(HaveOccurred())
			for i, line := range lines[2:] {
				a := running[i]
				Expect(a).NotTo(BeNil())
				zone := map[string]string{"cell-1": "z1", "cell-2": "z2"}[a.CellID]
				// CPU, MEM and DISK: "-" until the cell's first sample arrives.
				usage := `(-|[0-9.]+%%)\s+(-|[0-9.]+M of [0-9.]+M)\s+(-|[0-9.]+M of [0-9.]+M)` // a format: %% is one %
				Expect(line).To(MatchRegexp(`^%d\s+RUNNING\s+%s\s+%s\s+%s:%d\s+`+usage+`\s+0\s`,
					i, a.CellID, zone, regexp.QuoteMeta(a.Address), a.Ports[0].HostPort))
			}
		})

		It("logs shows lines of every instance in one stream", func() {
			Eventually(func() map[int]bool { return answeringIndices("web.localhost", 9) }, 10*time.Second).
				Should(HaveLen(3))
			Eventually(func(g Gomega) {
				out, errOut, code := w.CLI("logs", "web", "--follow=false", "--recent", "1000")
				g.Expect(code).To(Equal(0), errOut)
				for _, index := range []string{"0", "1", "2"} {
					g.Expect(out).To(MatchRegexp(`\d\d:\d\d:\d\d\.\d{3} \[APP/%s\] OUT .*GET /`, index))
				}
			}, 10*time.Second, 500*time.Millisecond).Should(Succeed())
		})

		It("logs --follow streams new lines as they come", func() {
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
			defer cancel()
			done := make(chan string, 1)
			go func() {
				defer GinkgoRecover()
				out, _, _ := w.CLIContext(ctx, "logs", "web", "--recent", "0")
				done <- out
			}()
			// Lines written before the stream is subscribed are not followed
			// (recent is 0), so keep writing until the command is stopped.
			marker := "follow-marker-" + time.Now().Format("150405.000")
			var out string
			Eventually(func() bool {
				_, _ = w.Get("web.localhost", "/stderr?msg="+marker)
				select {
				case out = <-done:
					return true
				default:
					return false
				}
			}, 10*time.Second, 300*time.Millisecond).Should(BeTrue())
			Expect(out).To(MatchRegexp(`\[APP/\d\] ERR %s`, marker))
		})

		It("scale down stops the extra instances and unroutes them", func() {
			out, errOut, code := w.CLI("scale", "web", "1")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(ContainSubstring("web: 1 instance(s) running"))
			Eventually(func() ([]*models.ActualLRP, error) { return w.ActualLRPs("web") }, 10*time.Second, 200*time.Millisecond).Should(HaveLen(1))
			Eventually(func() map[int]bool { return answeringIndices("web.localhost", 6) }, 5*time.Second, 200*time.Millisecond).
				Should(Equal(map[int]bool{0: true}))
		})

		It("update --instances waits, as scale does, until every instance runs", func() {
			out, errOut, code := w.CLI("update", "web", "--instances", "2")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(HavePrefix("updated web\n"))
			Expect(out).To(MatchRegexp(`web: 2 instance\(s\) running \(\d+\.\ds\)\n$`))
			Expect(w.RunningIndices("web")).To(HaveLen(2))
		})

		It("delete forgets the app, stops it and unroutes it", func() {
			out, errOut, code := w.CLI("delete", "web")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(Equal("deleted web\n"))
			resp, err := w.Request(http.MethodGet, "/v1/desired_lrps/web", nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Status).To(Equal(http.StatusNotFound))
			Eventually(func() ([]*models.ActualLRP, error) { return w.ActualLRPs("web") }, 10*time.Second, 200*time.Millisecond).Should(BeEmpty())
			Eventually(func() (int, error) {
				resp, err := w.Get("web.localhost", "/")
				return resp.Status, err
			}, 5*time.Second, 200*time.Millisecond).Should(Equal(http.StatusNotFound))

			out, _, code = w.CLI("list")
			Expect(code).To(Equal(0))
			Expect(out).NotTo(MatchRegexp(`(?m)^web\s`))
		})
	})

	Describe("task run", Ordered, func() {
		var busybox string

		BeforeAll(func() {
			var err error
			busybox, err = w.PushBusybox()
			Expect(err).NotTo(HaveOccurred())
		})

		It("runs a command once and prints its result", func() {
			out, errOut, code := w.CLI("task", "run", "answer", busybox, "--result-file", "/tmp/result", "--env", "ANSWER=42",
				"--", "sh", "-c", `echo "the answer is $ANSWER" > /tmp/result`)
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(MatchRegexp(`^task answer: (COMPLETED|RESOLVING) on cell-[12]\nresult:\nthe answer is 42\n`))

			task, err := w.Task("answer")
			Expect(err).NotTo(HaveOccurred())
			Expect(task.Failed).To(BeFalse())
			Expect(task.Result).To(Equal("the answer is 42\n"))

			out, _, code = w.CLI("task", "list")
			Expect(code).To(Equal(0))
			Expect(out).To(MatchRegexp(`(?m)^answer\s+COMPLETED\s+cell-[12]\s+false`))

			out, errOut, code = w.CLI("task", "delete", "answer")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(Equal("deleted task answer\n"))
			resp, err := w.Request(http.MethodGet, "/v1/tasks/answer", nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Status).To(Equal(http.StatusNotFound))
		})

		It("says in one line that a task failed, and exits 1", func() {
			out, errOut, code := w.CLI("task", "run", "doomed", busybox, "--", "sh", "-c", "exit 3")
			Expect(code).To(Equal(1))
			Expect(out).To(MatchRegexp(`task doomed: COMPLETED on cell-[12], failed: Exited with status 3`))
			Expect(errOut).To(Equal("diego: task doomed failed: Exited with status 3\n"))
		})
	})

	Describe("errors", func() {
		DescribeTable("are one line on stderr and exit 1",
			func(args []string, want string) {
				out, errOut, code := w.CLI(args...)
				Expect(code).To(Equal(1))
				Expect(out).To(BeEmpty())
				Expect(errOut).To(HavePrefix("diego: "))
				Expect(strings.Count(errOut, "\n")).To(Equal(1), errOut)
				Expect(errOut).To(ContainSubstring(want))
			},
			Entry("an unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`),
			Entry("an unknown app", []string{"status", "no-such-app"}, "DesiredLRPNotFound"),
			Entry("scaling an unknown app", []string{"scale", "no-such-app", "2"}, "DesiredLRPNotFound"),
			Entry("an unknown task", []string{"task", "get", "no-such-task"}, "TaskNotFound"),
			Entry("a target that is down", []string{"list", "--target", "http://127.0.0.1:1"}, "cannot reach the receptor at http://127.0.0.1:1"),
		)
	})

	Describe("cells", func() {
		It("lists both cells with their zones", func() {
			out, errOut, code := w.CLI("cells")
			Expect(code).To(Equal(0), errOut)
			Expect(out).To(MatchRegexp(`(?m)^cell-1\s+z1\s+\d+ MB`))
			Expect(out).To(MatchRegexp(`(?m)^cell-2\s+z2\s+\d+ MB`))
		})
	})
})
