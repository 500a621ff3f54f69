//go:build e2e

package acceptance_test

import (
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/models"
)

// J is a JSON object as the API takes it.
type J = map[string]any

// domain is the domain every spec's records live in (kept fresh forever).
const domain = "acceptance"

// run is a run action.
func run(path string, args ...string) J {
	return J{"run": J{"path": path, "args": args}}
}

// sh is a run action of `sh -c script`.
func sh(script string) J { return run("/bin/sh", "-c", script) }

// taskJSON is a task on busybox running action; extra fields override.
func taskJSON(guid string, action J, extra ...J) J {
	t := J{"task_guid": guid, "domain": domain, "rootfs": world.RootFS(busybox), "action": action,
		"memory_mb": 64, "disk_mb": 64, "log_guid": guid}
	for _, e := range extra {
		for k, v := range e {
			t[k] = v
		}
	}
	return t
}

// appJSON is an LRP of the test app on port 8080 with a TCP check, routed at
// GUID.test; extra fields override.
func appJSON(guid string, instances int, extra ...J) J {
	lrp := J{
		"process_guid": guid, "domain": domain, "instances": instances,
		"rootfs": world.RootFS(appImage), "action": run("/app/httpapp"),
		"ports": []int{8080}, "memory_mb": 64, "disk_mb": 128,
		"check_definition": J{"checks": []J{{"tcp_check": J{"port": 8080}}}},
		"routes":           routes(guid + ".test"),
		"log_guid":         guid, "metrics_guid": guid,
	}
	for _, e := range extra {
		for k, v := range e {
			if v == nil {
				delete(lrp, k)
			} else {
				lrp[k] = v
			}
		}
	}
	return lrp
}

func routes(hosts ...string) J {
	return J{models.CFRouterKey: []J{{"hostnames": hosts, "port": 8080}}}
}

// post sends body and expects status.
func post(path string, body any, status int) world.Response {
	resp, err := w.Request(http.MethodPost, path, body)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, resp.Status).To(Equal(status), string(resp.Body))
	return resp
}

func put(path string, body any, status int, headers ...string) world.Response {
	resp, err := w.Request(http.MethodPut, path, body, headers...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, resp.Status).To(Equal(status), string(resp.Body))
	return resp
}

func del(path string, status int) world.Response {
	resp, err := w.Request(http.MethodDelete, path, nil)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, resp.Status).To(Equal(status), string(resp.Body))
	return resp
}

func status(path string) int {
	resp, err := w.Request(http.MethodGet, path, nil)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return resp.Status
}

// desire creates an LRP and waits until n instances run.
func desire(lrp J) {
	post("/v1/desired_lrps", lrp, http.StatusCreated)
	n := lrp["instances"].(int)
	EventuallyWithOffset(1, runningCount(lrp["process_guid"].(string)), 60*time.Second).Should(Equal(n))
}

func runningCount(guid string) func() (int, error) {
	return func() (int, error) {
		r, err := w.RunningIndices(guid)
		return len(r), err
	}
}

// completed waits for a task to complete and returns it.
func completed(guid string, within time.Duration) *models.Task {
	var task *models.Task
	EventuallyWithOffset(1, func(g Gomega) {
		var err error
		task, err = w.Task(guid)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(task.State).To(BeElementOf(models.TaskStateCompleted, models.TaskStateResolving))
	}, within).Should(Succeed())
	return task
}

// answering collects which instance indices answer at host in tries requests.
func answering(host string, tries int) map[int]bool {
	seen := map[int]bool{}
	for i := 0; i < tries; i++ {
		if in, err := w.GetInstance(host); err == nil {
			seen[in.Index] = true
		}
	}
	return seen
}

// instanceEnv reads the test app's /env through the router.
func instanceEnv(host string) (map[string]string, error) {
	resp, err := w.Get(host, "/env")
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	return env, json.Unmarshal(resp.Body, &env)
}

// ensureDomain keeps the specs' domain fresh.
func ensureDomain() {
	put("/v1/domains/"+domain, nil, http.StatusNoContent)
}
