package main

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// held keeps what /alloc allocated reachable, so that it stays resident.
var (
	heldMu sync.Mutex
	held   [][]byte
)

// alloc allocates ?mb= MiB and writes every page, so the memory is really
// used (the container's memory usage rises by about that much).
func alloc(w http.ResponseWriter, r *http.Request) {
	mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
	if err != nil || mb <= 0 || mb > 4096 {
		http.Error(w, "mb must be an integer from 1 to 4096", http.StatusBadRequest)
		return
	}
	buf := make([]byte, mb<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	heldMu.Lock()
	held = append(held, buf)
	total := 0
	for _, b := range held {
		total += len(b)
	}
	heldMu.Unlock()
	fmt.Fprintf(w, "holding %d MiB\n", total>>20)
}

// spin keeps one core busy for ?seconds= seconds, in the background.
func spin(w http.ResponseWriter, r *http.Request) {
	seconds, err := strconv.Atoi(r.URL.Query().Get("seconds"))
	if err != nil || seconds <= 0 || seconds > 3600 {
		http.Error(w, "seconds must be an integer from 1 to 3600", http.StatusBadRequest)
		return
	}
	until := time.Now().Add(time.Duration(seconds) * time.Second)
	go func() {
		x := 0
		for time.Now().Before(until) {
			for i := 0; i < 1_000_000; i++ {
				x += i
			}
		}
		_ = x
	}()
	fmt.Fprintf(w, "spinning for %d s\n", seconds)
}
