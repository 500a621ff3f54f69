package converger

import (
	"testing"
	"time"
)

// The clock that turns a pass's MassLoss into the next pass's confirmation.
func TestMassLossClockConfirmsALossThatLastsAndForgetsOneThatEnds(t *testing.T) {
	var m massLossClock
	t0 := time.Unix(1_700_000_000, 0)
	hold := time.Minute
	steps := []struct {
		observe *MassLoss
		at      time.Duration
		check   time.Duration
		want    bool
	}{
		{nil, 0, 0, false},
		{&MassLoss{Held: true}, 0, 30 * time.Second, false},
		{&MassLoss{Held: true}, 30 * time.Second, time.Minute, true}, // the same loss, a minute on
		{nil, 90 * time.Second, 10 * time.Minute, false},             // the cells came back
	}
	for i, s := range steps {
		m.observe(s.observe, t0.Add(s.at))
		if got := m.confirmed(t0.Add(s.check), hold); got != s.want {
			t.Fatalf("step %d: confirmed = %v, want %v", i, got, s.want)
		}
	}
}
