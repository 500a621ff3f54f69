package steps_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"code.cloudfoundry.org/clock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("log_source", func() {
	var (
		root     string
		streamer *bufferStreamer
		server   *httptest.Server
	)

	BeforeEach(func() {
		root = GinkgoT().TempDir()
		streamer = newBufferStreamer()
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				w.WriteHeader(http.StatusCreated)
				return
			}
			w.Write([]byte("#!/bin/sh\necho payload\n"))
		}))
		DeferCleanup(server.Close)
	})

	perform := func(actionJSON string) error {
		GinkgoHelper()
		var action models.Action
		Expect(json.Unmarshal([]byte(actionJSON), &action)).To(Succeed())
		step, err := steps.Build(&action, steps.Deps{
			Container: hostContainer{root: root}, Streamer: streamer, HTTP: http.DefaultClient,
			Clock: clock.NewClock(), GracePeriod: time.Second, Env: []string{"PATH=/usr/bin:/bin"},
		})
		Expect(err).NotTo(HaveOccurred())
		return step.Perform(context.Background())
	}
	echo := func(word, source string) string {
		return `{"run": {"path": "/bin/echo", "args": ["` + word + `"], "log_source": "` + source + `"}}`
	}

	It("keeps the streamer's own source when no action names one", func() {
		Expect(perform(`{"serial": {"actions": [` + echo("plain", "") + `]}}`)).To(Succeed())
		Expect(streamer.Output("APP/OUT")).To(Equal("plain"))
	})

	DescribeTable("a combinator's log_source labels the lines of the run inside it",
		func(wrap func(inner string) string) {
			Expect(perform(wrap(echo("inside", "")))).To(Succeed())
			Expect(streamer.Output("STG/OUT")).To(Equal("inside"))
			Expect(streamer.Output("APP/OUT")).To(BeEmpty())
		},
		Entry("serial", func(in string) string { return `{"serial": {"log_source": "STG", "actions": [` + in + `]}}` }),
		Entry("parallel", func(in string) string { return `{"parallel": {"log_source": "STG", "actions": [` + in + `]}}` }),
		Entry("codependent", func(in string) string { return `{"codependent": {"log_source": "STG", "actions": [` + in + `]}}` }),
		Entry("try", func(in string) string { return `{"try": {"log_source": "STG", "action": ` + in + `}}` }),
		Entry("timeout", func(in string) string {
			return `{"timeout": {"log_source": "STG", "timeout": 5000000000, "action": ` + in + `}}`
		}),
		Entry("emit_progress", func(in string) string { return `{"emit_progress": {"log_source": "STG", "action": ` + in + `}}` }),
	)

	It("lets a child name its own source, for itself and its own children only", func() {
		Expect(perform(`{"serial": {"log_source": "OUTER", "actions": [
			` + echo("first", "") + `,
			{"parallel": {"log_source": "MIDDLE", "actions": [` + echo("second", "") + `]}},
			` + echo("third", "RUN") + `,
			` + echo("fourth", "") + `]}}`)).To(Succeed())
		Expect(streamer.Output("OUTER/OUT")).To(Equal("first\nfourth"))
		Expect(streamer.Output("MIDDLE/OUT")).To(Equal("second"))
		Expect(streamer.Output("RUN/OUT")).To(Equal("third"))
	})

	It("labels emit_progress's messages, a try's note and a failed run's stderr with the inherited source", func() {
		err := perform(`{"serial": {"log_source": "STG", "actions": [
			{"emit_progress": {"start_message": "staging", "success_message": "staged", "action": ` + echo("work", "COMPILER") + `}},
			{"try": {"action": {"run": {"path": "/bin/sh", "args": ["-c", "echo oops >&2; exit 3"]}}}},
			{"emit_progress": {"log_source": "PROGRESS", "failure_message_prefix": "gave up", "action": {"run": {"path": "/bin/false"}}}}
		]}}`)
		Expect(err).To(MatchError("Exited with status 1"))
		Expect(streamer.Output("STG/OUT")).To(Equal("staging\nstaged\nIgnoring failure: Exited with status 3"))
		Expect(streamer.Output("STG/ERR")).To(Equal("oops"))
		Expect(streamer.Output("COMPILER/OUT")).To(Equal("work"))
		Expect(streamer.Output("PROGRESS/ERR")).To(Equal("gave up: Exited with status 1"))
	})

	It("labels a download's and an upload's messages, inherited or their own", func() {
		Expect(os.WriteFile(filepath.Join(root, "result.txt"), []byte("42"), 0o644)).To(Succeed())
		Expect(perform(`{"serial": {"log_source": "STG", "actions": [
			{"download": {"artifact": "droplet", "from": "` + server.URL + `/droplet", "to": "/app/start.sh"}},
			{"upload": {"artifact": "result", "from": "/result.txt", "to": "` + server.URL + `/result", "log_source": "UPL"}}
		]}}`)).To(Succeed())
		Expect(streamer.Output("STG/OUT")).To(Equal("Downloading droplet...\nDownloaded droplet (23B)"))
		Expect(streamer.Output("UPL/OUT")).To(MatchRegexp(`^Uploading result\.\.\.\nUploaded result \(\d+(\.\d)?[BK]\)$`))
		Expect(os.ReadFile(filepath.Join(root, "app", "start.sh"))).To(Equal([]byte("#!/bin/sh\necho payload\n")))
	})

	It("says on stderr when a named download fails", func() {
		err := perform(`{"download": {"artifact": "buildpack", "log_source": "BP", "from": "http://127.0.0.1:1/nothing", "to": "/bp"}}`)
		Expect(err).To(MatchError(ContainSubstring("Downloading http://127.0.0.1:1/nothing failed")))
		Expect(streamer.Output("BP/OUT")).To(Equal("Downloading buildpack..."))
		Expect(streamer.Output("BP/ERR")).To(Equal("Downloading buildpack failed"))
	})
})
