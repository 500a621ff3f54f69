package linux

import (
	"fmt"

	"github.com/diego-runtime/diego/garden"
	"github.com/diego-runtime/diego/garden/image"
	"github.com/diego-runtime/diego/internal/config"
)

const mib = 1 << 20

// Disk quota modes (Config.DiskQuota).
const (
	// DiskQuotaRequired gives each container's writable layer a file system
	// of its own, disk_bytes in size; a garden that cannot do so does not
	// start.
	DiskQuotaRequired = "required"
	// DiskQuotaOff records disk_bytes and reports usage against it, nothing
	// more: the operator's explicit opt-out.
	DiskQuotaOff = "off"
)

// applyLimits turns a request's limits into the ones the container gets:
// every zero becomes the operator's default, a disk limit under the smallest
// file system is raised to it, and a request above a ceiling is refused
// (InvalidSpec) rather than clamped, so the caller learns that the
// cell cannot give what it asked for instead of running with less.
func (b *Backend) applyLimits(l *garden.Limits) error {
	memCeiling, diskCeiling := b.ceilings()
	if l.MemoryBytes == 0 {
		l.MemoryBytes = min(b.cfg.DefaultMemoryMB*mib, memCeiling)
	}
	if l.MemoryBytes > memCeiling {
		return garden.NewInvalidSpecError("memory limit %d MiB is above this cell's ceiling of %d MiB (max_memory_mb)", l.MemoryBytes/mib, memCeiling/mib)
	}
	if l.Pids < 0 {
		return garden.NewInvalidSpecError("pids limit %d must not be negative", l.Pids)
	}
	if l.Pids == 0 {
		l.Pids = b.cfg.DefaultPids
	}
	if l.Pids > b.cfg.MaxPids {
		return garden.NewInvalidSpecError("pids limit %d is above this cell's ceiling of %d (max_pids)", l.Pids, b.cfg.MaxPids)
	}
	if l.CPUShares == 0 {
		l.CPUShares = b.cfg.DefaultCPUShares
	}
	if l.CPUShares > b.cfg.MaxCPUShares {
		return garden.NewInvalidSpecError("cpu shares %d are above this cell's ceiling of %d (max_cpu_shares)", l.CPUShares, b.cfg.MaxCPUShares)
	}
	if l.DiskBytes == 0 {
		l.DiskBytes = min(b.cfg.DefaultDiskMB*mib, diskCeiling)
	}
	if l.DiskBytes > diskCeiling {
		return garden.NewInvalidSpecError("disk limit %d MiB is above this cell's ceiling of %d MiB (max_disk_mb)", l.DiskBytes/mib, diskCeiling/mib)
	}
	if l.DiskBytes < image.MinDiskBytes && b.cfg.DiskQuota == DiskQuotaRequired {
		// Below it ext4 leaves next to nothing: raised, not refused, as a
		// few MB more than asked for harms no one.
		l.DiskBytes = image.MinDiskBytes
	}
	return nil
}

// ceilings are the most memory and disk one container may ask for: the
// operator's max_memory_mb and max_disk_mb, or the cell's capacity where
// those are 0.
func (b *Backend) ceilings() (memory, disk uint64) {
	memory, disk = b.cfg.MaxMemoryMB*mib, b.cfg.MaxDiskMB*mib
	if memory == 0 || disk == 0 {
		capacity := b.capacity()
		if memory == 0 {
			memory = capacity.MemoryBytes
		}
		if disk == 0 {
			disk = capacity.DiskBytes
		}
	}
	return memory, disk
}

// validateLimits checks the limit fields of a Config and fills their defaults.
func (c *Config) validateLimits() error {
	if c.DefaultMemoryMB == 0 {
		c.DefaultMemoryMB = DefaultMemoryMB
	}
	if c.DefaultPids <= 0 {
		c.DefaultPids = DefaultPids
	}
	if c.MaxPids <= 0 {
		c.MaxPids = DefaultMaxPids
	}
	if c.DefaultCPUShares == 0 {
		c.DefaultCPUShares = DefaultCPUShares
	}
	if c.MaxCPUShares == 0 {
		c.MaxCPUShares = DefaultMaxCPUShares
	}
	if c.DefaultDiskMB == 0 {
		c.DefaultDiskMB = DefaultDiskMB
	}
	if c.MaxImageMB <= 0 {
		c.MaxImageMB = DefaultMaxImageMB
	}
	if c.DiskQuota == "" {
		c.DiskQuota = DiskQuotaRequired
	}
	var p config.Problems
	p.Check(c.DiskQuota == DiskQuotaRequired || c.DiskQuota == DiskQuotaOff, "disk_quota",
		fmt.Sprintf("%q must be %q or %q", c.DiskQuota, DiskQuotaRequired, DiskQuotaOff))
	p.Check(c.MaxMemoryMB == 0 || c.DefaultMemoryMB <= c.MaxMemoryMB, "default_memory_mb",
		fmt.Sprintf("%d is above max_memory_mb %d", c.DefaultMemoryMB, c.MaxMemoryMB))
	p.Check(c.DefaultPids <= c.MaxPids, "default_pids", fmt.Sprintf("%d is above max_pids %d", c.DefaultPids, c.MaxPids))
	p.Check(c.DefaultCPUShares >= 2 && c.MaxCPUShares <= 262144 && c.DefaultCPUShares <= c.MaxCPUShares, "default_cpu_shares",
		fmt.Sprintf("%d and max_cpu_shares %d must lie in 2-262144, default not above ceiling", c.DefaultCPUShares, c.MaxCPUShares))
	p.Check(c.MaxDiskMB == 0 || c.DefaultDiskMB <= c.MaxDiskMB, "default_disk_mb",
		fmt.Sprintf("%d is above max_disk_mb %d", c.DefaultDiskMB, c.MaxDiskMB))
	return p.Err()
}
