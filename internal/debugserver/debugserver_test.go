package debugserver_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/diego-runtime/diego/internal/debugserver"
)

func TestHandlerServesPingMetricsAndProfiles(t *testing.T) {
	registry := prometheus.NewRegistry()
	registry.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "diego_test_total", Help: "a test counter"}))
	server := httptest.NewServer(debugserver.Handler(registry))
	defer server.Close()
	for path, want := range map[string]string{
		"/ping":                          "",
		"/metrics":                       "diego_test_total 0",
		"/debug/pprof/goroutine?debug=1": "goroutine profile:",
		"/debug/pprof/profile?seconds=1": "\x1f\x8b", // a CPU profile: gzip
	} {
		resp, err := http.Get(server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body %.80q; want 200 with %q", path, resp.StatusCode, body, want)
		}
	}
	if resp, err := http.Post(server.URL+"/debug/pprof/profile", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a profile answered %v, %v; want 405", resp, err)
	}
}
