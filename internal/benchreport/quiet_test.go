package benchreport

import (
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// The two checks below hold however busy the machine is (`go test ./...`
// runs other packages beside this one): each compares what othersCPU saw with
// ticks counted around the same window, not with an idle machine.
const window = 500 * time.Millisecond

// slack is the rounding of /proc's tick counters, with room to spare.
const slack = 5

// around runs othersCPU inside a window of its own, reading ticks before and
// after: the machine's, this process's, and those of read (another counter).
type around struct {
	seenTicks               float64 // othersCPU's answer, back in ticks
	machine, own, elsewhere int64
}

func measure(t *testing.T, read func() (int64, error)) around {
	t.Helper()
	all0, own0, err := ticks()
	if err != nil {
		t.Fatal(err)
	}
	else0, err := read()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	busy, err := othersCPU(window)
	if err != nil {
		t.Fatal(err)
	}
	inner := time.Since(start) // othersCPU's own window is within this
	all1, own1, err := ticks()
	if err != nil {
		t.Fatal(err)
	}
	else1, err := read()
	if err != nil {
		t.Fatal(err)
	}
	return around{
		seenTicks: busy * inner.Seconds() * clockTicks,
		machine:   all1 - all0, own: own1 - own0, elsewhere: else1 - else0,
	}
}

// Our own spin is not counted: what othersCPU saw fits in the machine's
// ticks less ours. Counted, it would exceed that by our whole spin.
func TestOthersCPUExcludesThisProcess(t *testing.T) {
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
	defer func() { close(stop); <-done }()
	none := func() (int64, error) { return 0, nil }
	for range 5 {
		m := measure(t, none)
		if m.own < 3*slack {
			continue // the machine is too busy to give us a share; try again
		}
		if m.seenTicks > float64(m.machine-m.own+slack) {
			t.Fatalf("othersCPU saw %.0f ticks; the machine used %d, this process %d of them", m.seenTicks, m.machine, m.own)
		}
		return
	}
	t.Fatal("this process never got CPU enough to tell: five windows with under 15 ticks each")
}

// A process elsewhere is counted: what othersCPU saw holds at least its
// ticks. Left out, a spinner's whole window would be missing.
func TestOthersCPUCountsOtherProcesses(t *testing.T) {
	spin := exec.Command("sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = spin.Process.Kill(); _ = spin.Wait() }()
	stat := fmt.Sprintf("/proc/%d/stat", spin.Process.Pid)
	child := func() (int64, error) { return statTicks(stat, 2) }
	for range 5 {
		m := measure(t, child)
		if m.elsewhere < 3*slack {
			continue
		}
		if m.seenTicks < float64(m.elsewhere-slack) {
			t.Fatalf("othersCPU saw %.0f ticks; the spinner elsewhere used %d", m.seenTicks, m.elsewhere)
		}
		return
	}
	t.Fatal("the spinner never got CPU enough to tell: five windows with under 15 ticks each")
}
