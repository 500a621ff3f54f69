// Command attacker is the hostile tenant of the attack suite (e2e/attack): a
// static binary that runs in a container, as an LRP or as a task, and tries
// to reach what a tenant must not: control-plane ports, the host, link-local
// metadata, other tenants, NATS subjects. It only reports; the suite decides.
//
//	attacker serve          listen on $PORT (default 8080); POST /attack with a
//	                        JSON list of attacks answers a JSON list of results
//	attacker run            read the attacks from $ATTACKS, print every result
//	                        on stdout and write a summary to $RESULT_FILE
//	                        (default /tmp/result.json): {"tried": N, "through":
//	                        [the results that reached their target]}, small
//	                        enough for a task's 10 KB result
//
// An attack is {"name", "kind", "target", "subject", "body"}; kinds:
//
//	tcp        connect to target (host:port)
//	http       GET target (a URL); reached when any HTTP answer came back
//	http-post  POST body (JSON) to target
//	nats-pub   connect to NATS at target, publish on subject without credentials
//	nats-sub   connect to NATS at target, subscribe to subject without credentials
//
// A result says whether the connection was made ("reached") and whether the
// attack got what it wanted ("succeeded").
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/diego-runtime/diego/testapps/attacker/wire"
)

// Attack, Result and Summary are the wire shapes.
type (
	Attack  = wire.Attack
	Result  = wire.Result
	Summary = wire.Summary
)

// attemptTimeout bounds every attempt: a dropped packet waits this long.
const attemptTimeout = 2 * time.Second

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: attacker serve|run")
	}
	switch os.Args[1] {
	case "serve":
		serve()
	case "run":
		if err := runOnce(); err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatalf("unknown mode %q", os.Args[1])
	}
}

func serve() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "attacker") })
	mux.HandleFunc("/attack", func(w http.ResponseWriter, r *http.Request) {
		var attacks []Attack
		if err := json.NewDecoder(r.Body).Decode(&attacks); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(tryAll(attacks))
	})
	server := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.ListenAndServe())
}

func runOnce() error {
	var attacks []Attack
	if err := json.Unmarshal([]byte(os.Getenv("ATTACKS")), &attacks); err != nil {
		return fmt.Errorf("ATTACKS: %w", err)
	}
	results := tryAll(attacks)
	for _, r := range results {
		line, _ := json.Marshal(r)
		fmt.Println(string(line))
	}
	out, err := json.Marshal(wire.Summarize(results))
	if err != nil {
		return err
	}
	path := os.Getenv("RESULT_FILE")
	if path == "" {
		path = "/tmp/result.json"
	}
	return os.WriteFile(path, out, 0o644)
}

// tryAll runs the attacks at once (each is bounded by attemptTimeout) and
// answers in their order.
func tryAll(attacks []Attack) []Result {
	out := make([]Result, len(attacks))
	var wg sync.WaitGroup
	for i, a := range attacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = try(a)
		}()
	}
	wg.Wait()
	return out
}

func try(a Attack) Result {
	switch a.Kind {
	case "tcp":
		return tryTCP(a)
	case "http", "http-post":
		return tryHTTP(a)
	case "nats-pub", "nats-sub":
		return tryNATS(a)
	}
	return Result{Attack: a, Detail: "unknown kind " + a.Kind}
}
