package linux

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"code.cloudfoundry.org/lager/v3"
	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/internal/config"
)

// uidPool hands each unprivileged container its own host uid and gid range
// (uid_isolation "per-container"). The base range, uid_map_start and the
// 65535 ids after it, owns the shared layers and belongs to no container;
// slot i is the 65536 ids from uid_map_start + (i+1)*65536. Slots are handed
// out lowest free first, so a cell that runs few containers reuses few
// slots, and each slot's user namespace (the idmapping of its containers'
// layer clones: base range -> slot's range) is made once and kept open.
//
// The slot a container holds is written into its bundle (config.json's
// uidMappings). Garden's containers do not outlive garden (Start removes
// them), so a fresh pool at start hands out nothing still in use.
type uidPool struct {
	base  uint32 // uid_map_start
	count int

	mu      sync.Mutex
	holders map[string]int // handle -> slot
	taken   []bool         // by slot
	userns  map[int]*os.File
}

func newUIDPool(base uint32, count int) *uidPool {
	return &uidPool{base: base, count: count, holders: map[string]int{}, taken: make([]bool, count), userns: map[int]*os.File{}}
}

// start is the first host id of slot's range: the host id of its root.
func (p *uidPool) start(slot int) uint32 { return p.base + uint32(slot+1)*idMapSize }

// acquire gives handle the lowest free slot. With none free it returns an
// OutOfCapacity error that says so; nothing is claimed.
func (p *uidPool) acquire(handle string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.holders[handle]; ok {
		return 0, fmt.Errorf("uid range for %s: already held", handle)
	}
	for slot, taken := range p.taken {
		if !taken {
			p.taken[slot] = true
			p.holders[handle] = slot
			return slot, nil
		}
	}
	return 0, garden.NewOutOfCapacityError(fmt.Sprintf("all %d uid ranges (uid_range_count) are in use", p.count))
}

// rename moves the slot from holder from to holder to.
func (p *uidPool) rename(from, to string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot, ok := p.holders[from]
	if !ok {
		return fmt.Errorf("uid range of %s: not held", from)
	}
	if _, ok := p.holders[to]; ok {
		return fmt.Errorf("uid range for %s: already held", to)
	}
	delete(p.holders, from)
	p.holders[to] = slot
	return nil
}

// release frees handle's slot, if it holds one.
func (p *uidPool) release(handle string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slot, ok := p.holders[handle]; ok {
		p.taken[slot] = false
		delete(p.holders, handle)
	}
}

// namespace returns slot's user namespace, making it the first time.
func (p *uidPool) namespace(slot int) (*os.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ns, ok := p.userns[slot]; ok {
		return ns, nil
	}
	m := []image.IDMapping{{ContainerID: p.base, HostID: p.start(slot), Size: idMapSize}}
	ns, err := image.NewUserNamespace(m, m)
	if err != nil {
		return nil, fmt.Errorf("user namespace of uid range %d: %w", slot, err)
	}
	p.userns[slot] = ns
	return ns, nil
}

// close closes the kept user namespaces.
func (p *uidPool) close(logger lager.Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for slot, ns := range p.userns {
		errs = append(errs, ns.Close())
		delete(p.userns, slot)
	}
	if err := errors.Join(errs...); err != nil {
		logger.Error("closing-user-namespaces", err)
	}
}

// UIDIsolation values (Config.UIDIsolation).
const (
	// UIDIsolationPerContainer gives each unprivileged container its own
	// host id range.
	UIDIsolationPerContainer = "per-container"
	// UIDIsolationShared maps every unprivileged container to the range
	// from uid_map_start.
	UIDIsolationShared = "shared"
)

// validateUIDIsolation fills uid_isolation's defaults (after
// max_containers') and checks that every range fits below the largest id.
func (c *Config) validateUIDIsolation() error {
	if c.UIDIsolation == "" {
		c.UIDIsolation = UIDIsolationPerContainer
	}
	if c.UIDIsolation != UIDIsolationPerContainer && c.UIDIsolation != UIDIsolationShared {
		return &config.FieldError{Field: "uid_isolation", Problem: fmt.Sprintf("%q must be %q or %q", c.UIDIsolation, UIDIsolationPerContainer, UIDIsolationShared)}
	}
	if c.UIDRangeCount == 0 {
		c.UIDRangeCount = c.MaxContainers
	}
	ranges := uint64(1)
	if c.UIDIsolation == UIDIsolationPerContainer {
		ranges += c.UIDRangeCount
	}
	if end := uint64(c.UIDMapStart) + ranges*idMapSize; end > maxID+1 {
		return &config.FieldError{Field: "uid_map_start", Problem: fmt.Sprintf("%d with %d ranges of %d ids ends at %d, past the largest id %d", c.UIDMapStart, ranges, idMapSize, end-1, uint64(maxID))}
	}
	return nil
}

// claimUIDRange sets c's host root: the base range when ranges are shared,
// else a slot of its own, whose user namespace the image store idmaps the
// container's layers through.
func (b *Backend) claimUIDRange(c *container) (*image.IDIsolation, error) {
	if b.uids == nil {
		c.hostRoot = b.cfg.UIDMapStart
		return nil, nil
	}
	var slot int
	var err error
	if c.pooled != nil {
		// The pooled namespaces map to the slot the entry holds.
		slot, err = c.pooled.slot, b.uids.rename(c.pooled.key, c.handle)
	} else {
		slot, err = b.uids.acquire(c.handle)
		if err != nil && b.netPool.shrink() {
			// The pool held the last free slot.
			slot, err = b.uids.acquire(c.handle)
		}
	}
	if err != nil {
		return nil, err
	}
	ns, err := b.uids.namespace(slot)
	if err != nil {
		b.uids.release(c.handle)
		return nil, fmt.Errorf("creating %s: %w", c.handle, err)
	}
	c.hostRoot = b.uids.start(slot)
	return &image.IDIsolation{UserNS: ns, RootUID: c.hostRoot, RootGID: c.hostRoot}, nil
}

// releaseUIDRange gives c's slot back, if it holds one.
func (b *Backend) releaseUIDRange(c *container) {
	if b.uids != nil {
		b.uids.release(c.handle)
	}
}

// checkUIDIsolation refuses to start, naming the directory, where the image
// store cannot idmap its layers and uid_isolation is per-container.
func (b *Backend) checkUIDIsolation() error {
	if b.uids == nil {
		return nil
	}
	ns, err := b.uids.namespace(0)
	if err != nil {
		return fmt.Errorf("uid_isolation is %q: %w", UIDIsolationPerContainer, err)
	}
	if err := b.images.CheckIDMapping(ns); err != nil {
		return fmt.Errorf("uid_isolation is %q but the image store cannot give containers their own uid ranges (set uid_isolation to %q to map every container to uid_map_start's range): %w",
			UIDIsolationPerContainer, UIDIsolationShared, err)
	}
	return nil
}
