package receptor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

type sseEvent struct {
	ID   int64
	Name string
	Data string
}

// openEvents connects to /v1/events and parses its raw lines into events.
func openEvents(lastEventID string) <-chan sseEvent {
	GinkgoHelper()
	return openStream("/v1/events", lastEventID)
}

// openStream connects to an event stream and parses its raw lines into events.
func openStream(path, lastEventID string) <-chan sseEvent {
	GinkgoHelper()
	c, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	req, err := http.NewRequestWithContext(c, "GET", receptorURL+path, nil)
	Expect(err).NotTo(HaveOccurred())
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
	out := make(chan sseEvent, 1000)
	go func() {
		defer GinkgoRecover()
		defer resp.Body.Close()
		defer close(out)
		scanner := bufio.NewScanner(resp.Body)
		scanner.Buffer(make([]byte, 1<<20), 1<<22)
		var ev sseEvent
		for scanner.Scan() {
			line := scanner.Text()
			switch {
			case line == "":
				if ev.Name != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				id, err := strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
				Expect(err).NotTo(HaveOccurred())
				ev.ID = id
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

// nextNamed skips events until one whose name starts with prefix.
func nextNamed(events <-chan sseEvent, prefix string) sseEvent {
	GinkgoHelper()
	for {
		var ev sseEvent
		Eventually(events, "10s").Should(Receive(&ev))
		if strings.HasPrefix(ev.Name, prefix) {
			return ev
		}
	}
}

// lrpEventNames are the only names a 2015 client of /v1/events knows.
var lrpEventNames = []string{"desired_lrp_created", "desired_lrp_changed", "desired_lrp_removed",
	"actual_lrp_created", "actual_lrp_changed", "actual_lrp_removed"}

var _ = Describe("GET /v1/events", func() {
	It("streams desired and actual LRP events in order, with ids and bodies", func() {
		events := openEvents("")
		desire("web", "d", 1)
		Expect(do("PUT", "/v1/desired_lrps/web", `{"instances":2}`).Status).To(Equal(http.StatusNoContent))
		Expect(do("DELETE", "/v1/desired_lrps/web", "").Status).To(Equal(http.StatusNoContent))

		created := nextNamed(events, "desired_lrp_")
		Expect(created.Name).To(Equal("desired_lrp_created"))
		var body map[string]json.RawMessage
		Expect(json.Unmarshal([]byte(created.Data), &body)).To(Succeed())
		Expect(body).To(HaveKey("desired_lrp"))
		Expect(created.ID).To(BeNumerically(">", 0))

		changed := nextNamed(events, "desired_lrp_")
		Expect(changed.Name).To(Equal("desired_lrp_changed"))
		Expect(changed.ID).To(BeNumerically(">", created.ID))
		var change struct {
			Before models.DesiredLRP `json:"desired_lrp_before"`
			After  models.DesiredLRP `json:"desired_lrp_after"`
		}
		Expect(json.Unmarshal([]byte(changed.Data), &change)).To(Succeed())
		Expect(change.Before.Instances).To(Equal(1))
		Expect(change.After.Instances).To(Equal(2))

		removed := nextNamed(events, "desired_lrp_")
		Expect(removed.Name).To(Equal("desired_lrp_removed"))
		Expect(removed.ID).To(BeNumerically(">", changed.ID))
		Expect(removed.Data).To(ContainSubstring(`"desired_lrp":{`))
	})

	It("carries no task event: a 2015 client stops on a name it does not know", func() {
		events := openEvents("")
		Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
		completeTask("t")
		Expect(do("DELETE", "/v1/tasks/t", "").Status).To(Equal(http.StatusOK))
		// An LRP change after the task's: once it arrives, the task's would have too.
		desire("after", "d", 0)
		var seen []string
		for {
			var ev sseEvent
			Eventually(events, "10s").Should(Receive(&ev))
			seen = append(seen, ev.Name)
			if ev.Name == "desired_lrp_created" {
				break
			}
		}
		Expect(seen).To(HaveEach(BeElementOf(lrpEventNames)))
	})
})

var _ = Describe("GET /v1/events/tasks", func() {
	It("streams task events, in the same form, and no LRP event", func() {
		events := openStream("/v1/events/tasks", "")
		desire("web", "d", 1)
		Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
		completeTask("t")
		Expect(do("DELETE", "/v1/tasks/t", "").Status).To(Equal(http.StatusOK))

		var names []string
		var created sseEvent
		for len(names) < 4 {
			var ev sseEvent
			Eventually(events, "10s").Should(Receive(&ev))
			Expect(ev.Name).To(HavePrefix("task_"))
			Expect(ev.ID).To(BeNumerically(">", 0))
			if ev.Name == "task_created" {
				created = ev
			}
			names = append(names, ev.Name)
		}
		Expect(names).To(Equal([]string{"task_created", "task_changed", "task_changed", "task_removed"}))
		Expect(created.Data).To(ContainSubstring(`"task":{`))
		Expect(created.Data).To(ContainSubstring(`"task_guid":"t"`))
	})

	It("resumes after the Last-Event-ID", func() {
		events := openStream("/v1/events/tasks", "")
		Expect(do("POST", "/v1/tasks", taskJSON("t", "d")).Status).To(Equal(http.StatusCreated))
		created := nextNamed(events, "task_created")
		completeTask("t")
		changed := nextNamed(events, "task_changed")
		resumed := openStream("/v1/events/tasks", strconv.FormatInt(created.ID, 10))
		again := nextNamed(resumed, "task_")
		Expect(again.ID).To(Equal(changed.ID))
		Expect(again.Data).To(Equal(changed.Data))
	})
})

var _ = Describe("GET /v1/events, more", func() {

	It("carries actual LRP events with flat records", func() {
		events := openEvents("")
		desire("web", "d", 1)
		ev := nextNamed(events, "actual_lrp_")
		Expect(ev.Name).To(Equal("actual_lrp_created"))
		var body struct {
			ActualLRP map[string]json.RawMessage `json:"actual_lrp"`
		}
		Expect(json.Unmarshal([]byte(ev.Data), &body)).To(Succeed())
		Expect(string(body.ActualLRP["process_guid"])).To(Equal(`"web"`))
		Expect(string(body.ActualLRP["state"])).To(Equal(`"UNCLAIMED"`))
	})

	It("resumes after the Last-Event-ID", func() {
		events := openEvents("")
		desire("web", "d", 1)
		Expect(do("PUT", "/v1/desired_lrps/web", `{"annotation":"v2"}`).Status).To(Equal(http.StatusNoContent))
		created := nextNamed(events, "desired_lrp_")
		Expect(created.Name).To(Equal("desired_lrp_created"))
		changed := nextNamed(events, "desired_lrp_")

		resumed := openEvents(strconv.FormatInt(created.ID, 10))
		again := nextNamed(resumed, "desired_lrp_")
		Expect(again.Name).To(Equal("desired_lrp_changed"))
		Expect(again.ID).To(Equal(changed.ID))
		Expect(again.Data).To(Equal(changed.Data))
	})

	It("ends open streams when the receptor shuts down", func() {
		events := openEvents("")
		handler.CloseStreams()
		Eventually(events, "5s").Should(BeClosed())
	})

	It("answers 400 for a Last-Event-ID that is not a number", func() {
		expectError(do("GET", "/v1/events", "", "Last-Event-ID", "yesterday"), http.StatusBadRequest, "InvalidRequest")
	})
})
