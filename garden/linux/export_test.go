package linux

// LogPrefix is logPrefix, for the specs.
var LogPrefix = logPrefix

// CgroupVersion is the host's cgroup mode (1 or 2), as garden detects it.
func CgroupVersion() int {
	m, err := detectCgroups("")
	if err != nil {
		panic(err)
	}
	return m.version()
}
