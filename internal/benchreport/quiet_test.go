package benchreport

import (
	"os/exec"
	"testing"
	"time"
)

// A busy process elsewhere counts; this process's own work does not.
func TestOthersCPU(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // this process spins one core
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	own, err := othersCPU(500 * time.Millisecond)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	spin := exec.Command("sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = spin.Process.Kill(); _ = spin.Wait() }()
	others, err := othersCPU(500 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if others < own+0.5 {
		t.Fatalf("a spinning process elsewhere shows %.2f cores, this process spinning showed %.2f: the other one should count, ours not", others, own)
	}
}
