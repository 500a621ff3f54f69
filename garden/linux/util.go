package linux

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"golang.org/x/sys/unix"
)

func newHandle() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func durationNS(ns uint64) time.Duration { return time.Duration(ns) }

// maxNofile is garden's own hard RLIMIT_NOFILE: runc sets the init's limits
// from inside the user namespace, where they cannot be raised past it.
func maxNofile() uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Max
}
