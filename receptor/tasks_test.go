package receptor_test

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

func taskJSON(guid, domain string) string {
	return fmt.Sprintf(`{"task_guid":%q,"domain":%q,"rootfs":"docker:///library/busybox#1.36",
		"action":{"run":{"path":"/bin/echo","args":["hi"]}},"memory_mb":64,"disk_mb":64,"result_file":"/tmp/result"}`, guid, domain)
}

// completeTask moves a task to COMPLETED as a cell would.
func completeTask(guid string) {
	GinkgoHelper()
	ok, err := bbsClient.StartTask(ctx(), logger, guid, "cell-1")
	Expect(err).NotTo(HaveOccurred())
	Expect(ok).To(BeTrue())
	Expect(bbsClient.CompleteTask(ctx(), logger, guid, "cell-1", false, "", "the result")).To(Succeed())
}

var _ = Describe("Tasks", func() {
	Describe("POST /v1/tasks", func() {
		It("creates a pending task and asks the auctioneer to place it", func() {
			Expect(do("POST", "/v1/tasks", taskJSON("task-1", "d1")).Status).To(Equal(http.StatusCreated))

			resp := do("GET", "/v1/tasks/task-1", "")
			Expect(resp.Status).To(Equal(http.StatusOK))
			task := decode[models.Task](resp)
			Expect(task.TaskGuid).To(Equal("task-1"))
			Expect(task.Domain).To(Equal("d1"))
			Expect(task.State).To(Equal(models.TaskStatePending))
			Expect(task.Action.Run.Path).To(Equal("/bin/echo"))
			Eventually(func() []string {
				var paths []string
				for _, r := range auctioneer.Requests() {
					paths = append(paths, r.Path)
				}
				return paths
			}).Should(ContainElement("/v1/tasks"))
		})

		It("ignores the status fields of a task record sent back", func() {
			body := strings.Replace(taskJSON("t", "d"), `"memory_mb":64`, `"state":"COMPLETED","failed":true,"result":"forged","memory_mb":64`, 1)
			Expect(do("POST", "/v1/tasks", body).Status).To(Equal(http.StatusCreated))
			task := decode[models.Task](do("GET", "/v1/tasks/t", ""))
			Expect(task.State).To(Equal(models.TaskStatePending))
			Expect(task.Failed).To(BeFalse())
			Expect(task.Result).To(BeEmpty())
		})

		It("answers 409 TaskGuidAlreadyExists for a second task with the same guid", func() {
			Expect(do("POST", "/v1/tasks", taskJSON("task-1", "d1")).Status).To(Equal(http.StatusCreated))
			expectError(do("POST", "/v1/tasks", taskJSON("task-1", "d2")), http.StatusConflict, "TaskGuidAlreadyExists")
			Expect(decode[models.Task](do("GET", "/v1/tasks/task-1", "")).Domain).To(Equal("d1"))
		})

		DescribeTable("refuses bad input and stores nothing",
			func(body string, status int, name, mentions string) {
				msg := expectError(do("POST", "/v1/tasks", body), status, name)
				Expect(msg).To(ContainSubstring(mentions))
				Expect(string(do("GET", "/v1/tasks", "").Body)).To(Equal("[]\n"))
			},
			Entry("malformed JSON", `{"task_guid":`, http.StatusBadRequest, "InvalidJSON", "JSON"),
			Entry("an empty body", ``, http.StatusBadRequest, "InvalidJSON", "empty"),
			Entry("a wrong-typed field", strings.Replace(taskJSON("t", "d"), `"memory_mb":64`, `"memory_mb":"lots"`, 1),
				http.StatusBadRequest, "InvalidJSON", "memory_mb"),
			Entry("an unknown field", strings.Replace(taskJSON("t", "d"), `"memory_mb":64`, `"memory":64`, 1),
				http.StatusBadRequest, "InvalidJSON", "memory"),
			Entry("an invalid guid", taskJSON("bad guid!", "d"), http.StatusBadRequest, "InvalidTask", "task_guid"),
			Entry("no domain", taskJSON("t", ""), http.StatusBadRequest, "InvalidTask", "domain"),
			Entry("an action with two keys", strings.Replace(taskJSON("t", "d"), `"action":{"run":{"path":"/bin/echo","args":["hi"]}}`,
				`"action":{"run":{"path":"/bin/echo"},"upload":{"from":"/a","to":"http://x/y"}}`, 1),
				http.StatusBadRequest, "InvalidTask", "action"),
			Entry("an unknown rootfs scheme", strings.Replace(taskJSON("t", "d"), "docker:///", "ftp:///", 1),
				http.StatusBadRequest, "InvalidTask", "rootfs"),
			Entry("negative memory", strings.Replace(taskJSON("t", "d"), `"memory_mb":64`, `"memory_mb":-1`, 1),
				http.StatusBadRequest, "InvalidTask", "memory_mb"),
			Entry("an unparseable callback URL", strings.Replace(taskJSON("t", "d"), `"memory_mb":64`, `"completion_callback_url":"://nope","memory_mb":64`, 1),
				http.StatusBadRequest, "InvalidTask", "completion_callback_url"),
			Entry("an oversized body", strings.Replace(taskJSON("t", "d"), `"memory_mb":64`, `"annotation":"`+strings.Repeat("x", 2<<20)+`","memory_mb":64`, 1),
				http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "larger"),
		)
	})

	Describe("GET /v1/tasks", func() {
		It("answers [] when there are none", func() {
			resp := do("GET", "/v1/tasks", "")
			Expect(resp.Status).To(Equal(http.StatusOK))
			Expect(string(resp.Body)).To(Equal("[]\n"))
		})

		It("lists every task, or those of one domain", func() {
			Expect(do("POST", "/v1/tasks", taskJSON("a", "d1")).Status).To(Equal(http.StatusCreated))
			Expect(do("POST", "/v1/tasks", taskJSON("b", "d2")).Status).To(Equal(http.StatusCreated))
			guids := func(path string) []string {
				var out []string
				for _, t := range decode[[]models.Task](do("GET", path, "")) {
					out = append(out, t.TaskGuid)
				}
				return out
			}
			Expect(guids("/v1/tasks")).To(ConsistOf("a", "b"))
			Expect(guids("/v1/tasks?domain=d2")).To(ConsistOf("b"))
			Expect(string(do("GET", "/v1/tasks?domain=none", "").Body)).To(Equal("[]\n"))
		})
	})

	Describe("GET /v1/tasks/:guid", func() {
		It("answers 404 TaskNotFound for an unknown task", func() {
			expectError(do("GET", "/v1/tasks/nope", ""), http.StatusNotFound, "TaskNotFound")
		})
	})

	Describe("POST /v1/tasks/:guid/cancel", func() {
		It("completes a pending task as failed", func() {
			Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
			Expect(do("POST", "/v1/tasks/t/cancel", "").Status).To(Equal(http.StatusOK))
			task := decode[models.Task](do("GET", "/v1/tasks/t", ""))
			Expect(task.State).To(Equal(models.TaskStateCompleted))
			Expect(task.Failed).To(BeTrue())
			Expect(task.FailureReason).To(Equal("task was cancelled"))
		})

		It("answers 404 for an unknown task and 409 for a completed one", func() {
			expectError(do("POST", "/v1/tasks/nope/cancel", ""), http.StatusNotFound, "TaskNotFound")
			Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
			completeTask("t")
			resp := do("POST", "/v1/tasks/t/cancel", "")
			Expect(resp.Status).To(Equal(http.StatusConflict), string(resp.Body))
			Expect(decode[models.Task](do("GET", "/v1/tasks/t", "")).Failed).To(BeFalse())
		})
	})

	Describe("DELETE /v1/tasks/:guid", func() {
		It("deletes a completed task", func() {
			Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
			completeTask("t")
			Expect(decode[models.Task](do("GET", "/v1/tasks/t", "")).Result).To(Equal("the result"))
			Expect(do("DELETE", "/v1/tasks/t", "").Status).To(Equal(http.StatusOK))
			expectError(do("GET", "/v1/tasks/t", ""), http.StatusNotFound, "TaskNotFound")
		})

		It("answers 409 TaskNotDeletable for a task that has not completed", func() {
			Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
			expectError(do("DELETE", "/v1/tasks/t", ""), http.StatusConflict, "TaskNotDeletable")
			Expect(decode[models.Task](do("GET", "/v1/tasks/t", "")).State).To(Equal(models.TaskStatePending))
		})

		It("answers 404 TaskNotFound for an unknown task", func() {
			expectError(do("DELETE", "/v1/tasks/nope", ""), http.StatusNotFound, "TaskNotFound")
		})
	})
})
