package image

import (
	"fmt"
	"strings"
)

// overflowID is the id the kernel shows for ids with no mapping; files whose
// owner the mapping does not cover end up owned by it.
const overflowID = 65534

// idShifter translates image ids to host ids while layers are unpacked.
type idShifter struct {
	uids, gids []IDMapping
}

func (s idShifter) enabled() bool { return len(s.uids) > 0 || len(s.gids) > 0 }

func (s idShifter) uid(id int) int { return shift(s.uids, id) }
func (s idShifter) gid(id int) int { return shift(s.gids, id) }

// shift maps id through mappings. With no mappings ids are kept; an id outside
// every range goes to whatever the container's overflow id maps to, so it still
// appears as "nobody" inside the container rather than as a host user.
func shift(mappings []IDMapping, id int) int {
	if len(mappings) == 0 {
		return id
	}
	if host, ok := lookup(mappings, uint32(id)); ok && id >= 0 {
		return int(host)
	}
	if host, ok := lookup(mappings, overflowID); ok {
		return int(host)
	}
	return overflowID
}

func lookup(mappings []IDMapping, id uint32) (uint32, bool) {
	for _, m := range mappings {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}

// key identifies the shifting for the layer cache: layers unpacked with
// different mappings have different owners, so they are cached apart.
func (s idShifter) key() string {
	if !s.enabled() {
		return ""
	}
	var b strings.Builder
	for _, m := range s.uids {
		fmt.Fprintf(&b, "u%d:%d:%d;", m.ContainerID, m.HostID, m.Size)
	}
	for _, m := range s.gids {
		fmt.Fprintf(&b, "g%d:%d:%d;", m.ContainerID, m.HostID, m.Size)
	}
	return b.String()
}
