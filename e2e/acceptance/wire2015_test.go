//go:build e2e

package acceptance_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/models"
)

// wireFixture reads a request body under testdata/wire2015, written exactly
// as the 2015 receptor Go client serialised it (its field order, its
// omitempty rules, runtime-schema's actions), with the spec's own guid and
// the cluster's image URIs put in for {{GUID}}, {{APP_ROOTFS}} and
// {{BUSYBOX_ROOTFS}}.
func wireFixture(name, g string) []byte {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join("testdata", "wire2015", name))
	Expect(err).NotTo(HaveOccurred())
	return []byte(strings.NewReplacer(
		"{{GUID}}", g,
		"{{APP_ROOTFS}}", world.RootFS(appImage),
		"{{BUSYBOX_ROOTFS}}", world.RootFS(busybox),
	).Replace(string(data)))
}

// fields splits a JSON object into its fields.
func fields(data []byte) map[string]json.RawMessage {
	GinkgoHelper()
	var m map[string]json.RawMessage
	Expect(json.Unmarshal(data, &m)).To(Succeed(), string(data))
	return m
}

// getFields GETs path and splits the answer into its fields.
func getFields(path string) map[string]json.RawMessage {
	GinkgoHelper()
	resp, err := w.Request(http.MethodGet, path, nil)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.Status).To(Equal(http.StatusOK), string(resp.Body))
	return fields(resp.Body)
}

// expectSameFields checks that every field sent comes back unchanged.
func expectSameFields(sent []byte, got map[string]json.RawMessage) {
	GinkgoHelper()
	for field, value := range fields(sent) {
		Expect(got).To(HaveKey(field))
		Expect(got[field]).To(MatchJSON(value), "field %s", field)
	}
}

var _ = Describe("The 2015 receptor wire format", func() {
	It("takes a desired LRP as the 2015 client wrote it, returns every field unchanged, runs and routes it", func() {
		g := guid("wire2015")
		body := wireFixture("desired_lrp.json", g)
		post("/v1/desired_lrps", body, http.StatusCreated)
		got := getFields("/v1/desired_lrps/" + g)
		expectSameFields(body, got)
		// What the 2015 DesiredLRPResponse had beyond the request.
		Expect(got).To(HaveKey("monitor"))
		Expect(got["monitor"]).To(MatchJSON(`null`))
		Expect(fields(got["modification_tag"])).To(And(HaveKey("epoch"), HaveKey("index")))

		Eventually(runningCount(g), 60*time.Second).Should(Equal(1))
		env, err := instanceEnv(g + ".test")
		Expect(err).NotTo(HaveOccurred())
		Expect(env).To(HaveKeyWithValue("GREETING", "hello-2015"))
		Expect(env).To(HaveKeyWithValue("LEGACY", "yes"))

		// An ActualLRPResponse: the 2015 fields, flat.
		resp, err := w.Request(http.MethodGet, "/v1/actual_lrps/"+g, nil)
		Expect(err).NotTo(HaveOccurred())
		var actuals []map[string]json.RawMessage
		Expect(json.Unmarshal(resp.Body, &actuals)).To(Succeed())
		Expect(actuals).To(HaveLen(1))
		for _, field := range []string{"process_guid", "instance_guid", "cell_id", "domain", "index", "address",
			"ports", "state", "crash_count", "since", "evacuating", "modification_tag"} {
			Expect(actuals[0]).To(HaveKey(field))
		}
		Expect(actuals[0]["state"]).To(MatchJSON(`"RUNNING"`))
		Expect(actuals[0]["evacuating"]).To(MatchJSON(`false`))
		var ports []map[string]int
		Expect(json.Unmarshal(actuals[0]["ports"], &ports)).To(Succeed())
		Expect(ports).To(ConsistOf(And(HaveKeyWithValue("container_port", 8080), HaveKey("host_port"))))

		By("updating it with a DesiredLRPUpdateRequest")
		update := wireFixture("desired_lrp_update.json", g)
		put("/v1/desired_lrps/"+g, update, http.StatusNoContent)
		after := getFields("/v1/desired_lrps/" + g)
		expectSameFields(update, after)
		for field, value := range fields(body) {
			if _, updated := fields(update)[field]; !updated {
				Expect(after[field]).To(MatchJSON(value), "field %s", field)
			}
		}
		Eventually(runningCount(g), 60*time.Second).Should(Equal(2))
		Eventually(func() map[int]bool { return answering(g+"-v2.test", 20) }, 30*time.Second).Should(HaveLen(2))
		del("/v1/desired_lrps/"+g, http.StatusNoContent)
	})

	It("returns every action kind and egress rule field for field", func() {
		g := guid("wire2015-actions")
		body := wireFixture("desired_lrp_every_action.json", g)
		post("/v1/desired_lrps", body, http.StatusCreated)
		expectSameFields(body, getFields("/v1/desired_lrps/"+g))
		del("/v1/desired_lrps/"+g, http.StatusNoContent)
	})

	It("takes a task as the 2015 client wrote it, returns every field unchanged and runs it", func() {
		g := guid("wire2015-task")
		body := wireFixture("task.json", g)
		post("/v1/tasks", body, http.StatusCreated)
		got := getFields("/v1/tasks/" + g)
		expectSameFields(body, got)
		for _, field := range []string{"cell_id", "created_at", "failed", "failure_reason", "result", "state"} {
			Expect(got).To(HaveKey(field))
		}
		task := completed(g, 60*time.Second)
		Expect(task.Failed).To(BeFalse(), task.FailureReason)
		Expect(task.Result).To(Equal("yes\n"))
		expectSameFields(body, getFields("/v1/tasks/"+g))
		del("/v1/tasks/"+g, http.StatusOK)
	})

	It("keeps a domain fresh for the Cache-Control max-age the 2015 client sends", func() {
		d := guid("wire2015-domain")
		put("/v1/domains/"+d, nil, http.StatusNoContent, "Cache-Control", "max-age=300")
		resp, err := w.Request(http.MethodGet, "/v1/domains", nil)
		Expect(err).NotTo(HaveOccurred())
		var domains []string
		Expect(json.Unmarshal(resp.Body, &domains)).To(Succeed())
		Expect(domains).To(ContainElement(d))
	})

	It("answers cells as a CellResponse", func() {
		resp, err := w.Request(http.MethodGet, "/v1/cells", nil)
		Expect(err).NotTo(HaveOccurred())
		var cells []map[string]json.RawMessage
		Expect(json.Unmarshal(resp.Body, &cells)).To(Succeed())
		Expect(cells).To(HaveLen(3))
		for _, c := range cells {
			Expect(c).To(HaveKey("cell_id"))
			Expect(c).To(HaveKey("zone"))
			Expect(c).To(HaveKey("rootfs_providers"))
			Expect(fields(c["capacity"])).To(And(HaveKey("memory_mb"), HaveKey("disk_mb"), HaveKey("containers")))
		}
	})

	It("answers GET /v1/version with the build's version as diego_release", func() {
		// world.Build links in `git describe --always --dirty`, as make build does.
		describe := exec.Command("git", "describe", "--always", "--dirty")
		out, err := describe.Output()
		Expect(err).NotTo(HaveOccurred())
		got := getFields("/v1/version")
		var release string
		Expect(json.Unmarshal(got["diego_release"], &release)).To(Succeed())
		// The tree may have changed since the build; the commit may not.
		Expect(strings.TrimSuffix(release, "-dirty")).To(Equal(strings.TrimSuffix(strings.TrimSpace(string(out)), "-dirty")))
	})
})

var _ = Describe("The event streams, as a 2015 client reads them", func() {
	lrpNames := []string{"desired_lrp_created", "desired_lrp_changed", "desired_lrp_removed",
		"actual_lrp_created", "actual_lrp_changed", "actual_lrp_removed"}

	It("carry only the six LRP event names on /v1/events while tasks run, and the task events on /v1/events/tasks", func() {
		lrpEvents := followStream("/v1/events")
		taskEvents := followStream("/v1/events/tasks")
		tasks := []string{guid("events-task"), guid("events-task")}
		for _, t := range tasks {
			post("/v1/tasks", taskJSON(t, sh("sleep 1; echo done > /tmp/result"), J{"result_file": "/tmp/result"}), http.StatusCreated)
		}
		for _, t := range tasks {
			completed(t, 60*time.Second)
		}
		// An LRP created after the tasks ran: once its event is read, every
		// event of the tasks before it has been too.
		marker := guid("events-marker")
		post("/v1/desired_lrps", appJSON(marker, 0), http.StatusCreated)

		var names []string
		Eventually(func() string {
			for {
				select {
				case ev := <-lrpEvents:
					names = append(names, ev.name)
					if ev.name == "desired_lrp_created" && strings.Contains(ev.data, `"process_guid":"`+marker+`"`) {
						return "marker seen"
					}
				default:
					return ""
				}
			}
		}, 30*time.Second).Should(Equal("marker seen"))
		Expect(names).To(HaveEach(BeElementOf(lrpNames)))

		// The task stream: task events only, and each task's created and changed.
		seen := map[string][]string{}
		var others []string
		Eventually(func() map[string][]string {
			for {
				select {
				case ev := <-taskEvents:
					var body struct {
						Task  *models.Task `json:"task"`
						After *models.Task `json:"task_after"`
					}
					if !strings.HasPrefix(ev.name, "task_") || json.Unmarshal([]byte(ev.data), &body) != nil {
						others = append(others, ev.name)
						continue
					}
					t := body.Task
					if t == nil {
						t = body.After
					}
					if t != nil {
						seen[t.TaskGuid] = append(seen[t.TaskGuid], ev.name)
					}
				default:
					return seen
				}
			}
		}, 30*time.Second).Should(And(
			HaveKeyWithValue(tasks[0], ContainElements("task_created", "task_changed")),
			HaveKeyWithValue(tasks[1], ContainElements("task_created", "task_changed"))))
		Expect(others).To(BeEmpty())
		del("/v1/desired_lrps/"+marker, http.StatusNoContent)
	})
})

// followStream follows an SSE stream of the receptor until the spec ends.
func followStream(path string) chan sse {
	GinkgoHelper()
	out := make(chan sse, 10000)
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.ReceptorURL+path, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	go func() {
		defer resp.Body.Close()
		scanner := bufio.NewScanner(resp.Body)
		scanner.Buffer(make([]byte, 64<<10), 4<<20)
		var name string
		for scanner.Scan() {
			line := scanner.Text()
			if v, ok := strings.CutPrefix(line, "event:"); ok {
				name = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(line, "data:"); ok {
				select {
				case out <- sse{name: name, data: strings.TrimSpace(v)}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
