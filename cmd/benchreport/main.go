// Command benchreport turns the figures that `make bench` recorded (JSON lines
// written by internal/benchreport) into docs/benchmarks.md, with the machine they
// ran on and the command that reproduces them.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/diego-runtime/diego/internal/benchreport"
)

func main() {
	in := flag.String("in", "", "JSON lines recorded by the benchmarks")
	out := flag.String("out", "docs/benchmarks.md", "markdown report to write")
	flag.Parse()

	figures, err := read(*in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(render(figures)), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
	met, missed := 0, 0
	for _, f := range figures {
		if f.Baseline {
			continue
		}
		if f.Met {
			met++
		} else {
			missed++
		}
	}
	fmt.Printf("benchreport: %d figures (%d targets met, %d missed) written to %s\n", len(figures), met, missed, *out)
}

func read(path string) ([]benchreport.Figure, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var figures []benchreport.Figure
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		var f benchreport.Figure
		if err := json.Unmarshal(scanner.Bytes(), &f); err != nil {
			return nil, fmt.Errorf("decoding %q: %w", scanner.Text(), err)
		}
		figures = append(figures, f)
	}
	return figures, scanner.Err()
}

func render(figures []benchreport.Figure) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (do not edit by hand). Every figure below was measured by the\n")
	b.WriteString("command under \"Reproduce\"; baselines were measured in the same run on the same machine.\n\n")
	b.WriteString("## Machine\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "- cpu: %s, %d cores (GOMAXPROCS %d)\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "- memory: %s\n", memTotal())
	fmt.Fprintf(&b, "- kernel: %s\n", command("uname", "-sr"))
	fmt.Fprintf(&b, "- go: %s\n", runtime.Version())
	fmt.Fprintf(&b, "- runc: %s\n", firstLine(command("runc", "--version")))
	fmt.Fprintf(&b, "- commit: %s\n\n", command("git", "rev-parse", "--short", "HEAD"))
	b.WriteString("## Reproduce\n\n```\nmake bench\n```\n\n")

	areas := map[string][]benchreport.Figure{}
	var order []string
	for _, f := range figures {
		if _, ok := areas[f.Area]; !ok {
			order = append(order, f.Area)
		}
		areas[f.Area] = append(areas[f.Area], f)
	}
	sort.Strings(order)
	for _, area := range order {
		fmt.Fprintf(&b, "## %s\n\n| figure | value | target | verdict |\n|---|---|---|---|\n", area)
		for _, f := range areas[area] {
			verdict := "baseline"
			if !f.Baseline {
				verdict = "**missed**"
				if f.Met {
					verdict = "met"
				}
			}
			target := f.Target
			if target == "" {
				target = "-"
			}
			fmt.Fprintf(&b, "| %s | %.2f %s | %s | %s |\n", f.Name, f.Value, f.Unit, target, verdict)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.Join(strings.Fields(line)[1:], " ")
}
