package cluster

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultOvercommit multiplies what the machine has before it is shared out
// among the cells: an instance reserves its whole memory_mb and disk_mb in the
// auction, while a small app uses a fraction of both (the test app runs in
// about 5 MB), so a one-machine cluster that reserved only real memory would
// fit far fewer instances than it can run.
const DefaultOvercommit = 4.0

// CellCapacity is what each cell offers the auction.
type CellCapacity struct {
	MemoryMB   int `json:"memory_mb"`
	DiskMB     int `json:"disk_mb"`
	Containers int `json:"containers"`
	// What it was derived from, for the line diego up prints.
	MachineMemoryMB, MachineDiskMB int
	Overcommit                     float64
}

// DefaultCellContainers is how many containers a cell of diego up holds:
// enough for 1,000 instances of a small app on the default three cells.
const DefaultCellContainers = 400

// cellCapacity shares the machine's memory and the free disk under the state
// dir out among the cells, times the overcommit factor; CellMemoryMB and
// CellDiskMB, when set, win.
func (c Config) cellCapacity() (CellCapacity, error) {
	over := c.Overcommit
	if over <= 0 {
		over = DefaultOvercommit
	}
	mem, err := machineMemoryMB()
	if err != nil {
		return CellCapacity{}, err
	}
	disk, err := freeDiskMB(c.StateDir)
	if err != nil {
		return CellCapacity{}, err
	}
	out := CellCapacity{
		MemoryMB:        int(float64(mem) * over / float64(c.Cells)),
		DiskMB:          int(float64(disk) * over / float64(c.Cells)),
		Containers:      c.CellContainerCount(),
		MachineMemoryMB: mem, MachineDiskMB: disk, Overcommit: over,
	}
	if c.CellMemoryMB > 0 {
		out.MemoryMB = c.CellMemoryMB
	}
	if c.CellDiskMB > 0 {
		out.DiskMB = c.CellDiskMB
	}
	return out, nil
}

// String is the line diego up prints at start.
func (cc CellCapacity) String() string {
	return fmt.Sprintf("%d MB memory, %d MB disk, %d containers per cell (%.0fx this machine's %d MB memory and %d MB free disk, shared out; --overcommit, --cell-memory-mb, --cell-disk-mb)",
		cc.MemoryMB, cc.DiskMB, cc.Containers, cc.Overcommit, cc.MachineMemoryMB, cc.MachineDiskMB)
}

func machineMemoryMB() (int, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading the machine's memory: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				return 0, fmt.Errorf("reading the machine's memory: %q: %w", s.Text(), err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("reading the machine's memory: no MemTotal in /proc/meminfo")
}

func freeDiskMB(dir string) (int, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading the free disk under %s: %w", dir, err)
	}
	return int(st.Bavail * uint64(st.Bsize) / (1 << 20)), nil
}
