package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/diego-runtime/diego/cli"
)

var _ = Describe("diego events", func() {
	var target string

	// The receptor stands in here as a server of its two streams, each
	// sending one event and then staying open, as a quiet stream does.
	BeforeEach(func() {
		stream := func(name, data string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "id: 7\nevent: %s\ndata: %s\n\n", name, data)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}
		}
		mux := http.NewServeMux()
		mux.Handle("GET "+cli.LRPEventsPath, stream("desired_lrp_created", `{"desired_lrp":{"process_guid":"web"}}`))
		mux.Handle("GET "+cli.TaskEventsPath, stream("task_created", `{"task":{"task_guid":"t"}}`))
		server := httptest.NewServer(mux)
		DeferCleanup(server.Close)
		target = server.URL
	})

	follow := func(paths ...string) (*gbytes.Buffer, context.CancelFunc, chan error) {
		out := gbytes.NewBuffer()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- cli.FollowEvents(ctx, target, out, paths...) }()
		DeferCleanup(cancel)
		return out, cancel, done
	}

	It("reads LRP events from /v1/events and task events from /v1/events/tasks, one line each", func() {
		out, cancel, done := follow(cli.LRPEventsPath, cli.TaskEventsPath)
		Eventually(out).Should(gbytes.Say(`(desired_lrp_created|task_created) `))
		Eventually(out.Contents).Should(And(
			ContainSubstring("desired_lrp_created {\"desired_lrp\":{\"process_guid\":\"web\"}}\n"),
			ContainSubstring("task_created {\"task\":{\"task_guid\":\"t\"}}\n")))
		cancel()
		Eventually(done).Should(Receive(BeNil()))
	})

	It("reads one stream alone when asked", func() {
		out, cancel, done := follow(cli.TaskEventsPath)
		Eventually(out).Should(gbytes.Say("task_created "))
		Consistently(out.Contents, "300ms").ShouldNot(ContainSubstring("desired_lrp_created"))
		cancel()
		Eventually(done).Should(Receive(BeNil()))
	})
})
