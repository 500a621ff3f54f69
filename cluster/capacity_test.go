package cluster

import (
	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/rep"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Each cell's capacity", func() {
	var cfg Config
	BeforeEach(func() {
		cfg = DefaultConfig()
		cfg.StateDir = GinkgoT().TempDir()
	})

	It("shares the machine's memory and free disk out among the cells, times the overcommit factor", func() {
		mem, err := machineMemoryMB()
		Expect(err).NotTo(HaveOccurred())
		Expect(mem).To(BeNumerically(">", 0))
		c, err := cfg.cellCapacity()
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Overcommit).To(Equal(DefaultOvercommit))
		Expect(c.MemoryMB).To(BeNumerically("~", float64(mem)*DefaultOvercommit/3, 1))
		Expect(c.DiskMB).To(BeNumerically("~", float64(c.MachineDiskMB)*DefaultOvercommit/3, 1))
		Expect(c.Containers).To(Equal(DefaultCellContainers))
		Expect(c.String()).To(ContainSubstring("4x this machine's"))

		cfg.Cells, cfg.Overcommit = 6, 2
		half, err := cfg.cellCapacity()
		Expect(err).NotTo(HaveOccurred())
		Expect(half.MemoryMB).To(BeNumerically("~", c.MemoryMB/4, 1))
	})

	It("takes each cell's memory and disk as given when set", func() {
		cfg.CellMemoryMB, cfg.CellDiskMB = 1234, 5678
		c, err := cfg.cellCapacity()
		Expect(err).NotTo(HaveOccurred())
		Expect([]int{c.MemoryMB, c.DiskMB}).To(Equal([]int{1234, 5678}))
	})

	It("goes into every rep's executor config", func() {
		c := &Cluster{Config: cfg, Capacity: CellCapacity{MemoryMB: 32768, DiskMB: 100000, Containers: 250}}
		exec := c.typedConfigs()["cell-2-rep"].(rep.Config).Executor
		Expect(exec.Capacity).To(Equal(executor.Resources{MemoryMB: 32768, DiskMB: 100000, Containers: 250}))
	})
})
