package world

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// removeNetwork deletes what garden made for a cell's bridge and may leave
// behind (a known gap): its iptables chains in the filter and nat tables, the
// jumps to them, the bridge and its veths. A stale DNAT rule for a host port
// would otherwise capture the traffic of the next cluster using that port.
func removeNetwork(bridge string) {
	prefix := "g-" + bridge + "-"
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.Command("iptables", "-t", table, "-S").Output()
		if err != nil {
			continue
		}
		var chains []string
		for _, line := range strings.Split(string(out), "\n") {
			fields := strings.Fields(line)
			switch {
			case len(fields) == 2 && fields[0] == "-N" && strings.HasPrefix(fields[1], prefix):
				chains = append(chains, fields[1])
			case len(fields) > 2 && fields[0] == "-A" && !strings.HasPrefix(fields[1], prefix) && jumpsTo(fields, prefix):
				_ = exec.Command("iptables", append([]string{"-t", table, "-D"}, fields[1:]...)...).Run()
			}
		}
		for _, c := range chains {
			_ = exec.Command("iptables", "-t", table, "-F", c).Run()
		}
		for _, c := range chains {
			_ = exec.Command("iptables", "-t", table, "-X", c).Run()
		}
	}
	links, _ := filepath.Glob("/sys/class/net/" + bridge + "*")
	for _, l := range links {
		name := filepath.Base(l)
		if name == bridge || strings.HasPrefix(name, bridge+"-") {
			_ = exec.Command("ip", "link", "del", name).Run()
		}
	}
}

func jumpsTo(fields []string, prefix string) bool {
	for i, f := range fields {
		if (f == "-j" || f == "-g") && i+1 < len(fields) && strings.HasPrefix(fields[i+1], prefix) {
			return true
		}
	}
	return false
}
