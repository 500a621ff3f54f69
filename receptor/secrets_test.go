package receptor_test

import (
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/receptor"
)

// imagePassword is a string found nowhere but where a client wrote it.
const imagePassword = "canary-image-password-7f3a"

var _ = Describe("image_password", func() {
	withCredentials := func(record string) string {
		return strings.Replace(record, `"memory_mb"`, `"image_username":"robot","image_password":"`+imagePassword+`","memory_mb"`, 1)
	}

	// collect gathers the data of every event on a stream until one named last.
	collect := func(events <-chan sseEvent, last string) []string {
		var data []string
		for {
			var ev sseEvent
			Eventually(events, "10s").Should(Receive(&ev))
			data = append(data, ev.Name+" "+ev.Data)
			if ev.Name == last {
				return data
			}
		}
	}

	It("is in no answer, event or log line about a desired LRP, and the BBS still has it for the cells", func() {
		events := openEvents("")
		resp := do("POST", "/v1/desired_lrps", withCredentials(lrpJSON("private", "d", 1)))
		Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))

		var answers []string
		// What the API and the dashboard read (the page fetches these paths).
		for _, path := range []string{"/v1/desired_lrps", "/v1/desired_lrps?domain=d", "/v1/desired_lrps/private", "/v1/actual_lrps", "/v1/actual_lrps/private", "/"} {
			resp := do("GET", path, "")
			Expect(resp.Status).To(Equal(http.StatusOK), path)
			answers = append(answers, path+" "+string(resp.Body))
		}
		Expect(answers[2]).To(ContainSubstring(`"image_username":"robot"`))
		Expect(do("PUT", "/v1/desired_lrps/private", `{"instances":2}`).Status).To(Equal(http.StatusNoContent))
		Expect(do("DELETE", "/v1/desired_lrps/private", "").Status).To(Equal(http.StatusNoContent))
		answers = append(answers, collect(events, "desired_lrp_removed")...)

		Expect(answers).To(HaveEach(Not(ContainSubstring(imagePassword))))
		Expect(string(logger.Buffer().Contents())).NotTo(ContainSubstring(imagePassword))
	})

	It("stays in the store, where a rep reads it to pull the image", func() {
		Expect(do("POST", "/v1/desired_lrps", withCredentials(lrpJSON("private", "d", 1))).Status).To(Equal(http.StatusCreated))
		lrp, err := bbsClient.DesiredLRPByProcessGuid(ctx(), logger, "private")
		Expect(err).NotTo(HaveOccurred())
		Expect(lrp.ImagePassword).To(Equal(imagePassword))
		// The API reads the same record without it.
		Expect(decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/private", "")).ImagePassword).To(BeEmpty())
	})

	It("is in no answer, event, callback or log line about a task", func() {
		cb := newCallbackServer(http.StatusOK)
		invoke(&receptor.TaskCompletionWorker{Logger: logger, BBS: bbsClient, KickInterval: 300 * time.Millisecond, AllowLoopback: true})
		events := openStream("/v1/events/tasks", "")
		body := withCredentials(taskJSON("private", "d"))
		body = strings.Replace(body, `"memory_mb"`, `"completion_callback_url":"`+cb.URL+`","memory_mb"`, 1)
		resp := do("POST", "/v1/tasks", body)
		Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))

		var answers []string
		for _, path := range []string{"/v1/tasks", "/v1/tasks?domain=d", "/v1/tasks/private"} {
			answers = append(answers, path+" "+string(do("GET", path, "").Body))
		}
		Expect(answers[2]).To(ContainSubstring(`"image_username":"robot"`))
		completeTask("private")
		Eventually(cb.Bodies, "5s").Should(HaveLen(1))
		answers = append(answers, cb.Bodies()...)
		answers = append(answers, collect(events, "task_removed")...)

		Expect(answers).To(HaveEach(Not(ContainSubstring(imagePassword))))
		Expect(string(logger.Buffer().Contents())).NotTo(ContainSubstring(imagePassword))
	})
})
