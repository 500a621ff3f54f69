package benchreport

import (
	"os/exec"
	"testing"
	"time"
)

// A busy process elsewhere counts; this process's own work does not. `go test
// ./...` runs other packages beside this one, and their work counts as the
// others' too: each side takes the least of several short windows, which
// that noise can only raise. Counted, our own spin would add about a core to
// every window; the spinner elsewhere adds it to every window of its side.
func TestOthersCPU(t *testing.T) {
	const rounds, window = 5, 200 * time.Millisecond
	least := func(during func() func()) float64 {
		low := -1.0
		for range rounds {
			end := during()
			busy, err := othersCPU(window)
			end()
			if err != nil {
				t.Fatal(err)
			}
			if low < 0 || busy < low {
				low = busy
			}
		}
		return low
	}
	own := least(func() func() { // this process spins one core
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		return func() { close(stop); <-done }
	})
	others := least(func() func() {
		spin := exec.Command("sh", "-c", "while :; do :; done")
		if err := spin.Start(); err != nil {
			t.Fatal(err)
		}
		return func() { _ = spin.Process.Kill(); _ = spin.Wait() }
	})
	if others < own+0.5 {
		t.Fatalf("a spinning process elsewhere shows %.2f cores at least, this process spinning showed %.2f: the other one should count, ours not", others, own)
	}
}
