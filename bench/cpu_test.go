package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times; 100
// on every Linux this runs on.
const clockTicks = 100

// cpuSample is CPU time by process name: the cluster's daemons (the bench's
// direct children) under their names, what they spawned and waited for
// (runc, iptables-restore, mkfs) under "NAME children", and this process
// (embedded etcd, NATS, the registry and the router probe) under "bench".
type cpuSample map[string]time.Duration

func sampleCPU() cpuSample {
	out := cpuSample{}
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // exited since the glob
		}
		// The name may hold spaces and parentheses: fields start after the last ")".
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		name := s[open+1 : closing]
		fields := strings.Fields(s[closing+1:])
		// fields[0] is state (field 3): ppid is field 4, utime 14, stime 15,
		// cutime 16, cstime 17.
		if len(fields) < 15 || fields[1] != self {
			continue
		}
		tick := func(i int) time.Duration {
			n, _ := strconv.ParseInt(fields[i], 10, 64)
			return time.Duration(n) * time.Second / clockTicks
		}
		out[name] += tick(11) + tick(12)
		if c := tick(13) + tick(14); c > 0 {
			out[name+" children"] += c
		}
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	out["bench"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return out
}

// since is what each name used after before.
func (s cpuSample) since(before cpuSample) cpuSample {
	out := cpuSample{}
	for name, d := range s {
		out[name] = d - before[name]
	}
	return out
}

// controlPlane is the daemons' and this process's own CPU, without what the
// daemons spawned (runc and the containers are the floor's part).
func (s cpuSample) controlPlane() time.Duration {
	var total time.Duration
	for name, d := range s {
		if !strings.HasSuffix(name, " children") {
			total += d
		}
	}
	return total
}

// String lists the names by CPU used, largest first, per instance.
func (s cpuSample) perInstance(instances int) string {
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return s[names[i]] > s[names[j]] })
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "  %-28s %7.1f ms\n", name, ms(s[name])/float64(instances))
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
