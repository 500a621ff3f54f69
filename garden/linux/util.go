package linux

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

func newHandle() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func durationNS(ns uint64) time.Duration { return time.Duration(ns) }
