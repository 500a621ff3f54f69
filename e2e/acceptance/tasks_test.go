//go:build e2e

package acceptance_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Tasks", func() {
	It("run once and return the first bytes of their result file", func() {
		g := guid("result")
		post("/v1/tasks", taskJSON(g, sh("echo done > /tmp/result"), J{"result_file": "/tmp/result"}), http.StatusCreated)
		task := completed(g, 60*time.Second)
		Expect(task.Failed).To(BeFalse(), task.FailureReason)
		Expect(task.Result).To(Equal("done\n"))
		Expect(task.CellID).To(MatchRegexp(`^cell-[123]$`))

		del("/v1/tasks/"+g, http.StatusOK)
		Expect(status("/v1/tasks/" + g)).To(Equal(http.StatusNotFound))
	})

	It("keep only the first 10,240 bytes of the result file", func() {
		g := guid("bigresult")
		post("/v1/tasks", taskJSON(g, sh("yes x | head -c 20000 > /tmp/result"), J{"result_file": "/tmp/result"}), http.StatusCreated)
		task := completed(g, 60*time.Second)
		Expect(task.Failed).To(BeFalse(), task.FailureReason)
		Expect(task.Result).To(HaveLen(10240))
	})

	It("fail with the exit status of their action", func() {
		g := guid("fail")
		post("/v1/tasks", taskJSON(g, sh("exit 7")), http.StatusCreated)
		task := completed(g, 60*time.Second)
		Expect(task.Failed).To(BeTrue())
		Expect(task.FailureReason).To(Equal("Exited with status 7"))
	})

	It("see the image's env under the task's, under the action's", func() {
		g := guid("env")
		action := J{"run": J{"path": "/bin/sh", "args": []string{"-c", `echo "$PORT $A $B" > /tmp/result`},
			"env": []J{{"name": "B", "value": "action"}}}}
		post("/v1/tasks", taskJSON(g, action, J{
			"rootfs":      world.RootFS(appImage),
			"env":         []J{{"name": "PORT", "value": "1"}, {"name": "A", "value": "task"}, {"name": "B", "value": "task"}},
			"result_file": "/tmp/result",
		}), http.StatusCreated)
		task := completed(g, 60*time.Second)
		Expect(task.Failed).To(BeFalse(), task.FailureReason)
		Expect(task.Result).To(Equal("1 task action\n"))
	})

	It("fail when a timeout action runs out of time", func() {
		g := guid("timeout")
		post("/v1/tasks", taskJSON(g, J{"timeout": J{"action": run("/bin/sleep", "60"), "timeout": 1000000000}}), http.StatusCreated)
		task := completed(g, 30*time.Second)
		Expect(task.Failed).To(BeTrue())
		Expect(task.FailureReason).To(ContainSubstring("timed out after 1s"))
	})

	It("can be cancelled while running, and then only deleted", func() {
		g := guid("cancel")
		post("/v1/tasks", taskJSON(g, run("/bin/sleep", "600")), http.StatusCreated)
		Eventually(func() (string, error) {
			t, err := w.Task(g)
			return t.State, err
		}, 60*time.Second).Should(Equal(models.TaskStateRunning))
		resp := del("/v1/tasks/"+g, http.StatusConflict)
		Expect(resp.Error().Name).To(Equal("TaskNotDeletable"))

		started := time.Now()
		post("/v1/tasks/"+g+"/cancel", nil, http.StatusOK)
		task := completed(g, 15*time.Second)
		Expect(time.Since(started)).To(BeNumerically("<", 12*time.Second))
		Expect(task.Failed).To(BeTrue())
		Expect(task.FailureReason).To(Equal("task was cancelled"))
		post("/v1/tasks/"+g+"/cancel", nil, http.StatusConflict)
		del("/v1/tasks/"+g, http.StatusOK)
	})

	It("POST their completion to the callback URL, retry a 503, then are deleted", func() {
		var calls atomic.Int32
		received := make(chan models.Task, 4)
		server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if calls.Add(1) == 1 {
				rw.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			var t models.Task
			_ = json.Unmarshal(body, &t)
			received <- t
		}))
		DeferCleanup(server.Close)

		g := guid("callback")
		post("/v1/tasks", taskJSON(g, sh("echo called > /tmp/result"), J{"result_file": "/tmp/result", "completion_callback_url": server.URL + "/done"}), http.StatusCreated)
		var t models.Task
		Eventually(received, 60*time.Second).Should(Receive(&t))
		Expect(t.TaskGuid).To(Equal(g))
		Expect(t.Failed).To(BeFalse())
		Expect(t.Result).To(Equal("called\n"))
		Expect(calls.Load()).To(BeNumerically(">=", 2))
		Eventually(func() int { return status("/v1/tasks/" + g) }, 10*time.Second).Should(Equal(http.StatusNotFound))
	})

	DescribeTable("that no cell can take fail with the reason",
		func(extra J, reason string) {
			g := guid("unplaceable")
			post("/v1/tasks", taskJSON(g, sh("true"), extra), http.StatusCreated)
			task := completed(g, 90*time.Second)
			Expect(task.Failed).To(BeTrue())
			Expect(task.FailureReason).To(Equal(reason))
		},
		Entry("too much memory", J{"memory_mb": 10 << 20}, "insufficient resources: memory"),
		Entry("an unknown preloaded rootfs", J{"rootfs": "preloaded:no-such-stack"}, "found no compatible cell for required rootfs"),
		Entry("a placement tag no cell has", J{"placement_tags": []string{"gpu"}}, `found no compatible cell with placement tag "gpu"`),
	)

	It("refuse a second task with the same guid", func() {
		g := guid("dup")
		post("/v1/tasks", taskJSON(g, sh("true")), http.StatusCreated)
		resp := post("/v1/tasks", taskJSON(g, sh("true")), http.StatusConflict)
		Expect(resp.Error().Name).To(Equal("TaskGuidAlreadyExists"))
	})

	It("fail when their cell disappears", func() {
		g := guid("lost")
		post("/v1/tasks", taskJSON(g, run("/bin/sleep", "600")), http.StatusCreated)
		var cell string
		Eventually(func(g2 Gomega) {
			t, err := w.Task(g)
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(t.State).To(Equal(models.TaskStateRunning))
			cell = t.CellID
		}, 60*time.Second).Should(Succeed())
		Expect(w.KillCell(cellIndex(cell))).To(Succeed())

		task := completed(g, 30*time.Second)
		Expect(task.Failed).To(BeTrue())
		Expect(task.FailureReason).To(Equal("cell disappeared before completion"))
	})
})

// cellIndex is the 0-based index of cell-N.
func cellIndex(cellID string) int {
	var n int
	_, err := fmt.Sscanf(cellID, "cell-%d", &n)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return n - 1
}
