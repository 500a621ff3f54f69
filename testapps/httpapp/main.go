// Command httpapp is the small static HTTP server that tests and demos run in
// containers. It needs nothing beyond the standard library so that it builds with
// CGO_ENABLED=0 into a binary that runs on a bare busybox image.
//
// It listens on $PORT (default 8080) and serves:
//
//	/            JSON {"instance_index", "instance_guid", "hostname", "uptime_ms"}
//	/env         the process environment as a JSON object
//	/health      200 OK
//	/exit?code=N exits the process with status N (after answering)
//	/stderr?msg= writes msg to stderr
//	/alloc?mb=N  allocates N MiB more and holds it (every page touched)
//	/spin?seconds=N keeps one core busy for N seconds (in the background)
//
// Every request is logged as one line on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const defaultPort = "8080"

// started is when the process started; / answers how long ago (uptime_ms).
var started = time.Now()

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = defaultPort
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", index)
	mux.HandleFunc("/env", env)
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/exit", exit)
	mux.HandleFunc("/alloc", alloc)
	mux.HandleFunc("/spin", spin)
	mux.HandleFunc("/stderr", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(os.Stderr, r.URL.Query().Get("msg"))
		fmt.Fprintln(w, "written")
	})

	server := &http.Server{
		Addr:              ":" + port,
		Handler:           logRequests(mux),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Printf("httpapp listening on :%s\n", port)
	log.Fatal(server.ListenAndServe())
}

func index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	hostname, _ := os.Hostname()
	index, err := strconv.Atoi(os.Getenv("INSTANCE_INDEX"))
	if err != nil {
		index = -1 // not run by the executor
	}
	writeJSON(w, map[string]any{
		"instance_index": index,
		"instance_guid":  os.Getenv("INSTANCE_GUID"),
		"hostname":       hostname,
		"uptime_ms":      time.Since(started).Milliseconds(),
	})
}

func env(w http.ResponseWriter, _ *http.Request) {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	writeJSON(w, vars)
}

func exit(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil {
		http.Error(w, "code must be an integer", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "exiting with %d\n", code)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	// Exit after the handler returns so the client sees the answer.
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.Exit(code)
	}()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s %s\n", time.Now().UTC().Format(time.RFC3339), r.Method, r.URL.RequestURI())
		next.ServeHTTP(w, r)
	})
}
