package server_test

import (
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/models"
)

// Issue 19, item 5: a cell's certificate lets it name only itself (authz), and
// the BBS then checks that cell against the record's: a task or an instance
// assigned to cell A cannot be moved by cell B, even when B names itself.
var _ = Describe("Task and instance transitions check the cell, over mutual TLS", func() {
	var as func(id certs.Identity) *client.Client
	cellA, cellB, receptor, auctioneerID := certs.Rep("cell-a"), certs.Rep("cell-b"), certs.Of(certs.RoleReceptor), certs.Of(certs.RoleAuctioneer)
	key := models.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "d"}

	BeforeEach(func() {
		certDir := filepath.Join(GinkgoT().TempDir(), "certs")
		_, err := certs.WriteSet(certDir, certs.SetOptions{Identities: []certs.Identity{
			certs.Of(certs.RoleBBS), receptor, auctioneerID, cellA, cellB,
		}})
		Expect(err).NotTo(HaveOccurred())
		tlsOf := func(id certs.Identity) transport.TLS {
			f := certs.FilesIn(certDir, id)
			return transport.TLS{CACertFile: f.CACert, CertFile: f.Cert, KeyFile: f.Key}
		}
		url := startTLSBBS(tlsOf(certs.Of(certs.RoleBBS)))
		as = func(id certs.Identity) *client.Client {
			hc, err := transport.NewClient(tlsOf(id), 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			return client.NewClient(hc, url)
		}
		Expect(as(receptor).DesireTask(bg, logger, "t-a", "d", taskDef())).To(Succeed())
		Expect(as(receptor).DesireLRP(bg, logger, lrp("web", 1))).To(Succeed())
	})

	// taskAuctions counts the task auctions the BBS asked for.
	taskAuctions := func() int {
		n := 0
		for _, p := range auctioneer.Paths() {
			if p == "/v1/tasks" {
				n++
			}
		}
		return n
	}
	task := func() *models.Task {
		t, err := as(receptor).TaskByGuid(bg, logger, "t-a")
		Expect(err).NotTo(HaveOccurred())
		return t
	}

	It("refuses cell B starting, completing or rejecting, as itself, a task that runs on cell A", func() {
		started, err := as(cellA).StartTask(bg, logger, "t-a", "cell-a")
		Expect(err).NotTo(HaveOccurred())
		Expect(started).To(BeTrue())

		_, err = as(cellB).StartTask(bg, logger, "t-a", "cell-b")
		Expect(err).To(MatchError(models.ErrTaskCellMismatch))
		Expect(as(cellB).CompleteTask(bg, logger, "t-a", "cell-b", true, "not mine", "")).To(MatchError(models.ErrTaskCellMismatch))
		Expect(as(cellB).RejectTask(bg, logger, "t-a", "cell-b", "not mine")).To(MatchError(models.ErrTaskCellMismatch))
		Expect(as(auctioneerID).RejectTask(bg, logger, "t-a", "", "late")).To(MatchError(models.ErrTaskCellMismatch))
		t := task()
		Expect(t.State).To(Equal(models.TaskStateRunning))
		Expect(t.CellID).To(Equal("cell-a"))
		Expect(t.RejectionCount).To(BeZero())

		By("cell A gives it back: only its own cell may")
		Expect(as(cellA).RejectTask(bg, logger, "t-a", "cell-a", "cannot run it here")).To(Succeed())
		Expect(task().State).To(Equal(models.TaskStatePending))
	})

	It("refuses cell B claiming or starting, as itself, an instance claimed by cell A", func() {
		onA := models.ActualLRPInstanceKey{InstanceGuid: "i-a", CellID: "cell-a"}
		onB := models.ActualLRPInstanceKey{InstanceGuid: "i-b", CellID: "cell-b"}
		Expect(as(cellA).ClaimActualLRP(bg, logger, key, onA)).To(Succeed())
		Expect(as(cellB).ClaimActualLRP(bg, logger, key, onB)).To(MatchError(models.ErrActualLRPCannotBeClaimed))
		Expect(as(cellB).StartActualLRP(bg, logger, key, onB, models.ActualLRPNetInfo{Address: "10.0.0.2"}, true)).To(MatchError(models.ErrActualLRPCannotBeClaimed))
		Expect(as(cellA).StartActualLRP(bg, logger, key, onA, models.ActualLRPNetInfo{Address: "10.0.0.1"}, true)).To(Succeed())
		Expect(as(cellB).StartActualLRP(bg, logger, key, onB, models.ActualLRPNetInfo{Address: "10.0.0.2"}, true)).To(MatchError(models.ErrActualLRPCannotBeClaimed))
		actuals, err := as(receptor).ActualLRPs(bg, logger, models.ActualLRPFilter{ProcessGuid: "web"})
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals).To(HaveLen(1))
		Expect(actuals[0].ActualLRPInstanceKey).To(Equal(onA))
		Expect(actuals[0].State).To(Equal(models.ActualLRPStateRunning))
	})

	// The auction gave the task to cell A; A's POST /work timed out, so the
	// auctioneer rejects it; A starts it anyway. Whichever order the late
	// start and the rejection take, the task runs on one cell and completes
	// once, with that cell's result.
	Describe("a cell that answers the auction late", func() {
		It("keeps the task on the late cell when its start lands before the rejection", func() {
			started, err := as(cellA).StartTask(bg, logger, "t-a", "cell-a")
			Expect(err).NotTo(HaveOccurred())
			Expect(started).To(BeTrue())
			Expect(as(auctioneerID).RejectTask(bg, logger, "t-a", "", "cell cell-a did not take the work: timeout")).To(MatchError(models.ErrTaskCellMismatch))
			Consistently(taskAuctions, 300*time.Millisecond).Should(Equal(1), "the task is not auctioned a second time")

			Expect(as(cellA).CompleteTask(bg, logger, "t-a", "cell-a", false, "", "from a")).To(Succeed())
			t := task()
			Expect(t.State).To(Equal(models.TaskStateCompleted))
			Expect(t.Result).To(Equal("from a"))
			Expect(t.RejectionCount).To(BeZero())
		})

		It("refuses the late cell's start once another cell runs the task", func() {
			Expect(as(auctioneerID).RejectTask(bg, logger, "t-a", "", "cell cell-a did not take the work: timeout")).To(Succeed())
			Eventually(taskAuctions).Should(Equal(2), "auctioned again")
			started, err := as(cellB).StartTask(bg, logger, "t-a", "cell-b")
			Expect(err).NotTo(HaveOccurred())
			Expect(started).To(BeTrue())

			_, err = as(cellA).StartTask(bg, logger, "t-a", "cell-a")
			Expect(err).To(MatchError(models.ErrTaskCellMismatch))
			Expect(as(cellA).CompleteTask(bg, logger, "t-a", "cell-a", true, "killed", "")).To(MatchError(models.ErrTaskCellMismatch))
			Expect(as(cellB).CompleteTask(bg, logger, "t-a", "cell-b", false, "", "from b")).To(Succeed())
			t := task()
			Expect(t.State).To(Equal(models.TaskStateCompleted))
			Expect(t.Failed).To(BeFalse())
			Expect(t.Result).To(Equal("from b"))
		})
	})
})
