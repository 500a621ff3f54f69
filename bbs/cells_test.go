package bbs_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Cells and domains", func() {
	presence := models.CellPresence{CellID: "cell-1", RepAddress: "127.0.0.1:1800", Zone: "z1",
		Capacity: models.CellCapacity{MemoryMB: 1024, DiskMB: 1024, Containers: 10}}

	It("pings etcd", func() {
		Expect(db.Ping(ctx)).To(Succeed())
	})

	It("lists a registered cell and keeps it alive while it heartbeats", func() {
		lease, err := db.RegisterCell(ctx, logger, presence, 2)
		Expect(err).NotTo(HaveOccurred())
		cells, err := db.Cells(ctx, logger)
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(1))
		Expect(cells[0].Zone).To(Equal("z1"))
		// Outlive the TTL by heartbeating well inside it.
		Consistently(func() error { return db.HeartbeatCell(ctx, logger, "cell-1", lease) }, 3*time.Second, 250*time.Millisecond).Should(Succeed())
		Expect(db.Cells(ctx, logger)).To(HaveLen(1))
	})

	It("drops a cell whose lease expires, and its heartbeat then answers CellNotFound", func() {
		lease, err := db.RegisterCell(ctx, logger, presence, 1)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]*models.CellPresence, error) { return db.Cells(ctx, logger) }, 5*time.Second, 100*time.Millisecond).Should(BeEmpty())
		Expect(db.HeartbeatCell(ctx, logger, "cell-1", lease)).To(MatchError(models.ErrCellNotFound))
	})

	It("replaces a registration and its lease", func() {
		first, err := db.RegisterCell(ctx, logger, presence, 30)
		Expect(err).NotTo(HaveOccurred())
		second, err := db.RegisterCell(ctx, logger, presence, 30)
		Expect(err).NotTo(HaveOccurred())
		Expect(db.HeartbeatCell(ctx, logger, "cell-1", first)).To(MatchError(models.ErrCellNotFound))
		Expect(db.HeartbeatCell(ctx, logger, "cell-1", second)).To(Succeed())
		Expect(db.HeartbeatCell(ctx, logger, "cell-2", second)).To(MatchError(models.ErrCellNotFound))
	})

	It("refuses a presence without a cell id", func() {
		_, err := db.RegisterCell(ctx, logger, models.CellPresence{}, 10)
		Expect(err).To(HaveOccurred())
	})

	Describe("domains", func() {
		It("keeps a domain without a TTL fresh, and lets one with a TTL expire", func() {
			Expect(db.UpsertDomain(ctx, logger, "forever", 0)).To(Succeed())
			Expect(db.UpsertDomain(ctx, logger, "brief", 1)).To(Succeed())
			Expect(db.Domains(ctx, logger)).To(ConsistOf("forever", "brief"))
			Eventually(func() ([]string, error) { return db.Domains(ctx, logger) }, 5*time.Second, 100*time.Millisecond).Should(ConsistOf("forever"))
		})

		It("renews a domain's TTL on upsert, and can make it permanent", func() {
			Expect(db.UpsertDomain(ctx, logger, "d", 1)).To(Succeed())
			Expect(db.UpsertDomain(ctx, logger, "d", 0)).To(Succeed())
			Consistently(func() ([]string, error) { return db.Domains(ctx, logger) }, 2500*time.Millisecond, 250*time.Millisecond).Should(ConsistOf("d"))
		})

		It("refuses an empty name", func() {
			Expect(db.UpsertDomain(ctx, logger, "", 10)).To(MatchError(models.ErrInvalidDomain))
		})
	})
})
