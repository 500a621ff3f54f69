package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times; 100
// on every Linux this runs on.
const clockTicks = 100

// daemonsCPU is the CPU time (user + system) the cluster's daemons, the
// bench's direct children, have used so far. Their own children (runc, the
// containers) are not counted.
func daemonsCPU() time.Duration {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // exited since the glob
		}
		// The command may hold spaces and parentheses: fields start after the last ")".
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		// fields[0] is state (field 3): ppid is field 4, utime 14, stime 15.
		if len(fields) < 13 || fields[1] != self {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks += utime + stime
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// controlPlaneCPU is daemonsCPU plus this process's own CPU time: diego up
// embeds etcd, NATS and the registry here (and the router probe runs here).
func controlPlaneCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return daemonsCPU() + time.Duration(ru.Utime.Nano()+ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// unifiedCgroups reports a cgroup-v2-only host, where garden runs crun when
// it is installed (crun refuses this machine's hybrid layout).
func unifiedCgroups() bool {
	var fs syscall.Statfs_t
	return syscall.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == 0x63677270 // CGROUP2_SUPER_MAGIC
}
