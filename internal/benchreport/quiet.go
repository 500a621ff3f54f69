package benchreport

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTicks = 100

// WaitQuiet waits until the rest of the machine (everything but this process
// and the children it has waited for) used at most maxCores of CPU over one
// whole second, or until limit has passed. A benchmark calls it before a
// ratio to its floor: work another package's benchmark left behind (a
// cluster's containers being torn down) falls on the two sides unevenly.
// It answers how long it waited and the others' CPU, in cores, of the last
// second it watched.
func WaitQuiet(maxCores float64, limit time.Duration) (time.Duration, float64) {
	start := time.Now()
	for {
		others, err := othersCPU(time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
			return time.Since(start), -1
		}
		if others <= maxCores || time.Since(start) >= limit {
			return time.Since(start), others
		}
	}
}

// othersCPU answers the cores the machine used over window, this process
// excluded.
func othersCPU(window time.Duration) (float64, error) {
	all0, own0, err := ticks()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	time.Sleep(window)
	all1, own1, err := ticks()
	if err != nil {
		return 0, err
	}
	busy := float64((all1-all0)-(own1-own0)) / clockTicks
	return max(0, busy/time.Since(t0).Seconds()), nil
}

// ticks reads the machine's busy ticks and this process's.
func ticks() (all, own int64, err error) {
	if all, err = machineTicks(); err != nil {
		return 0, 0, err
	}
	own, err = ownTicks()
	return all, own, err
}

// machineTicks sums the busy fields of /proc/stat's cpu line (user, nice,
// system, irq, softirq, steal; idle and iowait are not work).
func machineTicks() (int64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var sum int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat field %d: %w", i, err)
		}
		sum += n
	}
	return sum, nil
}

// ownTicks answers this process's CPU time and its waited-for children's.
func ownTicks() (int64, error) { return statTicks("/proc/self/stat", 4) }

// statTicks sums the first n CPU-time fields of a /proc/<pid>/stat file:
// utime, stime, cutime and cstime, the 14th to 17th fields of the line.
func statTicks(path string, n int) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces.
	s := string(data)
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(rest) < 11+n {
		return 0, fmt.Errorf("unexpected %s %q", path, s)
	}
	var sum int64
	for _, v := range rest[11 : 11+n] {
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		sum += t
	}
	return sum, nil
}
