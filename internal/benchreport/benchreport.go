// Package benchreport records benchmark figures so that `make bench` can print
// each beside its target and collect them into docs/benchmarks.md.
//
// A benchmark calls Record for every figure it measures. Record prints one line
// and, when DIEGO_BENCH_OUT names a file, appends the figure to it as a JSON line;
// cmd/benchreport turns that file into the markdown report.
package benchreport

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// Figure is one measured number.
type Figure struct {
	Area     string  `json:"area"`     // e.g. "garden", "bbs", "auction"
	Name     string  `json:"name"`     // e.g. "create+run p50 (sequential)"
	Value    float64 `json:"value"`    // the measurement
	Unit     string  `json:"unit"`     // e.g. "ms", "MB", "instances/s"
	Target   string  `json:"target"`   // e.g. "< 150 ms"; empty for a baseline
	Met      bool    `json:"met"`      // whether Value meets Target
	Baseline bool    `json:"baseline"` // a floor measured in the same run
}

var mu sync.Mutex

// Record prints the figure and appends it to $DIEGO_BENCH_OUT.
func Record(f Figure) {
	verdict := "baseline"
	if !f.Baseline {
		verdict = "MISSED"
		if f.Met {
			verdict = "met"
		}
	}
	fmt.Printf("BENCH %-10s %-50s %12.2f %-12s target %-14s %s\n", f.Area, f.Name, f.Value, f.Unit, f.Target, verdict)

	path := os.Getenv("DIEGO_BENCH_OUT")
	if path == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	file, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		return
	}
	defer file.Close()
	_ = json.NewEncoder(file).Encode(f)
}

// Below records a figure whose target is an upper bound.
func Below(area, name string, value float64, unit string, limit float64) {
	Record(Figure{Area: area, Name: name, Value: value, Unit: unit,
		Target: fmt.Sprintf("< %g %s", limit, unit), Met: value < limit})
}

// AtMost records a figure whose target is an upper bound it may reach.
func AtMost(area, name string, value float64, unit string, limit float64) {
	Record(Figure{Area: area, Name: name, Value: value, Unit: unit,
		Target: fmt.Sprintf("<= %g %s", limit, unit), Met: value <= limit})
}

// Above records a figure whose target is a lower bound.
func Above(area, name string, value float64, unit string, floor float64) {
	Record(Figure{Area: area, Name: name, Value: value, Unit: unit,
		Target: fmt.Sprintf("> %g %s", floor, unit), Met: value > floor})
}

// Baseline records a floor measured in the same run for comparison.
func Baseline(area, name string, value float64, unit string) {
	Record(Figure{Area: area, Name: name, Value: value, Unit: unit, Baseline: true})
}
