package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
)

// The client against the real server and DB is covered by the bbs/server
// suite; these specs cover the wire format on its own.

var _ = Describe("Event stream format", func() {
	It("reads back every event WriteEvent wrote, in order", func() {
		var buf bytes.Buffer
		written := []models.Event{
			{ID: 7, Type: models.EventTypeTaskCreated, Task: &models.Task{TaskGuid: "t", State: models.TaskStatePending}},
			{ID: 8, Type: models.EventTypeDesiredLRPChanged,
				DesiredLRPBefore: &models.DesiredLRP{ProcessGuid: "p", Instances: 1, Annotation: "line one\nline two"},
				DesiredLRPAfter:  &models.DesiredLRP{ProcessGuid: "p", Instances: 2}},
		}
		for _, ev := range written {
			Expect(client.WriteEvent(&buf, ev)).To(Succeed())
			buf.WriteString(": keepalive\n\n")
		}
		source := client.NewSSESource(io.NopCloser(&buf), nil)
		for _, want := range written {
			got, err := source.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		}
		_, err := source.Next()
		Expect(err).To(MatchError(io.ErrUnexpectedEOF))
	})

	It("writes the id, event and data lines of DESIGN 9", func() {
		var buf bytes.Buffer
		Expect(client.WriteEvent(&buf, models.Event{ID: 12, Type: models.EventTypeTaskRemoved, Task: &models.Task{TaskGuid: "t"}})).To(Succeed())
		lines := strings.Split(buf.String(), "\n")
		Expect(lines[0]).To(Equal("id: 12"))
		Expect(lines[1]).To(Equal("event: task_removed"))
		Expect(lines[2]).To(HavePrefix(`data: {"task":{"task_guid":"t"`))
		Expect(lines[3:]).To(Equal([]string{"", ""}))
	})

	It("ends with the typed error of an error event", func() {
		var buf bytes.Buffer
		Expect(client.WriteEvent(&buf, models.Event{ID: 3, Type: models.EventTypeTaskRemoved, Task: &models.Task{TaskGuid: "t"}})).To(Succeed())
		Expect(client.WriteErrorEvent(&buf, models.ErrInvalidRequest.WithMessage("compacted; resync"))).To(Succeed())
		Expect(buf.String()).To(HaveSuffix("event: error\ndata: {\"name\":\"InvalidRequest\",\"message\":\"compacted; resync\"}\n\n"))
		source := client.NewSSESource(io.NopCloser(&buf), nil)
		_, err := source.Next()
		Expect(err).NotTo(HaveOccurred())
		_, err = source.Next()
		Expect(err).To(MatchError(models.ErrInvalidRequest))
		Expect(err).NotTo(MatchError(models.ErrServiceUnavailable))
	})

	It("refuses an event with a bad id", func() {
		source := client.NewSSESource(io.NopCloser(strings.NewReader("id: x\nevent: task_created\ndata: {}\n\n")), nil)
		_, err := source.Next()
		Expect(err).To(HaveOccurred())
	})
})

var _ = Describe("Errors from the BBS", func() {
	var logger = lagertest.NewTestLogger("client-test")

	serve := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		DeferCleanup(srv.Close)
		return srv.URL
	}

	It("decodes a typed error with its status", func() {
		c := client.NewClient(nil, serve(http.StatusConflict, `{"name":"TaskNotDeletable","message":"task t is RUNNING"}`))
		err := c.DeleteTask(context.Background(), logger, "t")
		Expect(errors.Is(err, models.ErrTaskNotDeletable)).To(BeTrue())
		var typed *models.Error
		Expect(errors.As(err, &typed)).To(BeTrue())
		Expect(typed.Status).To(Equal(http.StatusConflict))
		Expect(typed.Message).To(Equal("task t is RUNNING"))
	})

	It("turns an untyped failure into UnknownError and an untyped 503 into ServiceUnavailable", func() {
		err := client.NewClient(nil, serve(http.StatusBadGateway, "proxy trouble")).DeleteTask(context.Background(), logger, "t")
		Expect(errors.Is(err, models.ErrUnknown)).To(BeTrue(), "%v", err)
		err = client.NewClient(nil, serve(http.StatusServiceUnavailable, "down")).DeleteTask(context.Background(), logger, "t")
		Expect(errors.Is(err, models.ErrServiceUnavailable)).To(BeTrue(), "%v", err)
	})

	It("fails over past a BBS that answers 503 to one that answers", func() {
		good := serve(http.StatusOK, `{"domains":["a"]}`)
		c := client.NewClient(&http.Client{Timeout: time.Second}, serve(http.StatusServiceUnavailable, `{"name":"ServiceUnavailable","message":"no etcd"}`), good)
		domains, err := c.Domains(context.Background(), logger)
		Expect(err).NotTo(HaveOccurred())
		Expect(domains).To(Equal([]string{"a"}))
	})

	It("answers ServiceUnavailable with no URL at all", func() {
		err := client.NewClient(nil).Ping(context.Background())
		Expect(errors.Is(err, models.ErrServiceUnavailable)).To(BeTrue())
	})
})
