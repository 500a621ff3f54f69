package bbs_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/models"
)

func newTaskDef() *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFS: "docker:///busybox#latest", MemoryMB: 32, DiskMB: 32,
		Action: &models.Action{Run: &models.RunAction{Path: "/bin/true"}},
	}
}

var _ = Describe("Tasks", func() {
	task := func(guid string) *models.Task {
		t, err := db.TaskByGuid(ctx, logger, guid)
		Expect(err).NotTo(HaveOccurred())
		return t
	}

	BeforeEach(func() {
		Expect(db.DesireTask(ctx, logger, "t1", "d", newTaskDef())).To(Succeed())
	})

	It("stores a PENDING task and auctions it", func() {
		t := task("t1")
		Expect(t.State).To(Equal(models.TaskStatePending))
		Expect(t.CreatedAt).To(Equal(clock.Now().UnixNano()))
		Expect(auctioneer.taskGuids()).To(Equal([]string{"t1"}))
	})

	It("refuses a duplicate guid and an invalid definition", func() {
		Expect(db.DesireTask(ctx, logger, "t1", "d", newTaskDef())).To(MatchError(models.ErrTaskGuidAlreadyExists))
		bad := newTaskDef()
		bad.Action = nil
		Expect(db.DesireTask(ctx, logger, "t2", "d", bad)).To(MatchError(models.ErrInvalidTask))
		_, err := db.TaskByGuid(ctx, logger, "t2")
		Expect(err).To(MatchError(models.ErrTaskNotFound))
	})

	It("runs the whole lifecycle: start, complete, resolve, delete", func() {
		shouldStart, err := db.StartTask(ctx, logger, "t1", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(shouldStart).To(BeTrue())
		shouldStart, err = db.StartTask(ctx, logger, "t1", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(shouldStart).To(BeFalse())
		_, err = db.StartTask(ctx, logger, "t1", "cell-2")
		Expect(err).To(MatchError(models.ErrTaskCellMismatch))

		Expect(db.DeleteTask(ctx, logger, "t1")).To(MatchError(models.ErrTaskNotDeletable))
		Expect(db.CompleteTask(ctx, logger, "t1", "cell-2", false, "", "x")).To(MatchError(models.ErrTaskCellMismatch))
		clock.Increment(time.Second)
		big := strings.Repeat("r", 20000)
		Expect(db.CompleteTask(ctx, logger, "t1", "cell-1", false, "", big)).To(Succeed())
		t := task("t1")
		Expect(t.State).To(Equal(models.TaskStateCompleted))
		Expect(t.Result).To(HaveLen(10240))
		Expect(t.FirstCompletedAt).To(Equal(clock.Now().UnixNano()))
		Expect(t.UpdatedAt).To(Equal(clock.Now().UnixNano()))

		Expect(db.ResolvingTask(ctx, logger, "t1")).To(Succeed())
		Expect(db.ResolvingTask(ctx, logger, "t1")).To(MatchError(models.ErrInvalidStateTransition))
		Expect(db.RevertResolvingTask(ctx, logger, "t1")).To(Succeed())
		Expect(task("t1").State).To(Equal(models.TaskStateCompleted))
		Expect(task("t1").FirstCompletedAt).To(Equal(t.FirstCompletedAt))
		Expect(db.DeleteTask(ctx, logger, "t1")).To(Succeed())
		_, err = db.TaskByGuid(ctx, logger, "t1")
		Expect(err).To(MatchError(models.ErrTaskNotFound))
	})

	It("renews the delivery lease of a RESOLVING task only", func() {
		Expect(db.FailTask(ctx, logger, "t1", "x")).To(Succeed())
		Expect(db.RenewResolvingTask(ctx, logger, "t1")).To(MatchError(models.ErrInvalidStateTransition))
		Expect(db.ResolvingTask(ctx, logger, "t1")).To(Succeed())
		before := task("t1").UpdatedAt
		clock.Increment(20 * time.Second)
		Expect(db.RenewResolvingTask(ctx, logger, "t1")).To(Succeed())
		t := task("t1")
		Expect(t.State).To(Equal(models.TaskStateResolving))
		Expect(t.UpdatedAt).To(Equal(before + int64(20*time.Second)))
		Expect(db.RevertResolvingTask(ctx, logger, "t1")).To(Succeed())
		Expect(db.RenewResolvingTask(ctx, logger, "t1")).To(MatchError(models.ErrInvalidStateTransition), "the lease is lost once reverted")
	})

	It("deletes a task whose callback was delivered while RESOLVING", func() {
		Expect(db.FailTask(ctx, logger, "t1", "x")).To(Succeed())
		Expect(db.ResolvingTask(ctx, logger, "t1")).To(Succeed())
		Expect(db.DeleteTask(ctx, logger, "t1")).To(Succeed())
		Expect(db.DeleteTask(ctx, logger, "t1")).To(MatchError(models.ErrTaskNotFound))
	})

	It("cancels a running task and stops its container through the rep at once", func() {
		rep := newFakeRep()
		registerCell("cell-1", rep)
		_, err := db.StartTask(ctx, logger, "t1", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(db.CancelTask(ctx, logger, "t1")).To(Succeed())
		t := task("t1")
		Expect(t.State).To(Equal(models.TaskStateCompleted))
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(Equal("task was cancelled"))
		Expect(rep.Calls()).To(ConsistOf("POST /v1/tasks/t1/cancel"))
		Expect(db.CancelTask(ctx, logger, "t1")).To(MatchError(models.ErrTaskNotCancelable))
		Expect(db.CancelTask(ctx, logger, "nope")).To(MatchError(models.ErrTaskNotFound))
	})

	It("fails a task at its third rejection with the placement error as reason", func() {
		Expect(db.RejectTask(ctx, logger, "t1", "", "insufficient resources: memory")).To(Succeed())
		Expect(task("t1").State).To(Equal(models.TaskStatePending))
		Expect(task("t1").RejectionCount).To(Equal(1))
		Expect(db.RejectTask(ctx, logger, "t1", "", "insufficient resources: memory")).To(Succeed())
		Expect(task("t1").State).To(Equal(models.TaskStatePending))
		Expect(db.RejectTask(ctx, logger, "t1", "", "insufficient resources: memory")).To(Succeed())
		t := task("t1")
		Expect(t.State).To(Equal(models.TaskStateCompleted))
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(Equal("insufficient resources: memory"))
		Expect(t.RejectionCount).To(Equal(3))
		Expect(auctioneer.taskGuids()).To(Equal([]string{"t1", "t1", "t1"}))
		Expect(db.RejectTask(ctx, logger, "t1", "", "again")).To(MatchError(models.ErrInvalidStateTransition))
	})

	Describe("task transitions check the cell (issue 19, item 5)", func() {
		BeforeEach(func() {
			started, err := db.StartTask(ctx, logger, "t1", "cell-a")
			Expect(err).NotTo(HaveOccurred())
			Expect(started).To(BeTrue())
		})

		It("refuses a placement rejection that arrives after a cell started the task: it keeps running there, once", func() {
			Expect(db.RejectTask(ctx, logger, "t1", "", "cell cell-a did not take the work: timeout")).To(MatchError(models.ErrTaskCellMismatch))
			t := task("t1")
			Expect(t.State).To(Equal(models.TaskStateRunning))
			Expect(t.CellID).To(Equal("cell-a"))
			Expect(t.RejectionCount).To(BeZero())
			Expect(auctioneer.taskGuids()).To(Equal([]string{"t1"}), "no second auction")
		})

		It("refuses another cell's rejection, start and completion, and keeps the result of the cell that runs it", func() {
			Expect(db.RejectTask(ctx, logger, "t1", "cell-b", "x")).To(MatchError(models.ErrTaskCellMismatch))
			_, err := db.StartTask(ctx, logger, "t1", "cell-b")
			Expect(err).To(MatchError(models.ErrTaskCellMismatch))
			Expect(db.CompleteTask(ctx, logger, "t1", "cell-b", true, "not mine", "")).To(MatchError(models.ErrTaskCellMismatch))
			Expect(db.CompleteTask(ctx, logger, "t1", "cell-a", false, "", "42")).To(Succeed())
			t := task("t1")
			Expect(t.State).To(Equal(models.TaskStateCompleted))
			Expect(t.Failed).To(BeFalse())
			Expect(t.Result).To(Equal("42"))
		})

		It("lets the cell that runs the task give it back for another auction", func() {
			Expect(db.RejectTask(ctx, logger, "t1", "cell-a", "cell-a cannot run it")).To(Succeed())
			t := task("t1")
			Expect(t.State).To(Equal(models.TaskStatePending))
			Expect(t.CellID).To(BeEmpty())
			Expect(t.RejectionCount).To(Equal(1))
			Expect(auctioneer.taskGuids()).To(Equal([]string{"t1", "t1"}))
		})
	})

	It("fails a pending task, and auctions again only pending tasks", func() {
		Expect(db.DesireTask(ctx, logger, "t2", "d", newTaskDef())).To(Succeed())
		Expect(db.FailTask(ctx, logger, "t2", "not started within time limit")).To(Succeed())
		Expect(task("t2").FailureReason).To(Equal("not started within time limit"))
		Expect(db.AuctionTasks(ctx, logger, []string{"t1", "t2", "nope"})).To(Succeed())
		Expect(auctioneer.taskGuids()).To(Equal([]string{"t1", "t2", "t1"}))
	})

	It("refuses to fail a running task as cell-vanished while its cell is present", func() {
		_, err := db.StartTask(ctx, logger, "t1", "cell-back")
		Expect(err).NotTo(HaveOccurred())
		lease, err := db.RegisterCell(ctx, logger, models.CellPresence{CellID: "cell-back", RepAddress: "127.0.0.1:1",
			Zone: "z1", Capacity: models.CellCapacity{MemoryMB: 1024, DiskMB: 1024, Containers: 10}}, 30)
		Expect(err).NotTo(HaveOccurred())
		revoke := func() error { _, err := etcdClient.Revoke(ctx, clientv3.LeaseID(lease)); return err }
		DeferCleanup(func() { _ = revoke() })

		Expect(db.FailTask(ctx, logger, "t1", models.TaskFailureCellDisappeared)).To(MatchError(models.ErrResourceConflict))
		Expect(task("t1").State).To(Equal(models.TaskStateRunning))
		Expect(task("t1").CellID).To(Equal("cell-back"))

		By("failing it once the cell is really gone")
		Expect(revoke()).To(Succeed())
		Expect(db.FailTask(ctx, logger, "t1", models.TaskFailureCellDisappeared)).To(Succeed())
		Expect(task("t1").State).To(Equal(models.TaskStateCompleted))
		Expect(task("t1").FailureReason).To(Equal(models.TaskFailureCellDisappeared))
	})

	It("lists tasks by domain and cell", func() {
		Expect(db.DesireTask(ctx, logger, "t2", "other", newTaskDef())).To(Succeed())
		_, err := db.StartTask(ctx, logger, "t2", "cell-9")
		Expect(err).NotTo(HaveOccurred())
		all, err := db.Tasks(ctx, logger, models.TaskFilter{})
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(HaveLen(2))
		byCell, err := db.Tasks(ctx, logger, models.TaskFilter{CellID: "cell-9"})
		Expect(err).NotTo(HaveOccurred())
		Expect(byCell).To(HaveLen(1))
		Expect(byCell[0].TaskGuid).To(Equal("t2"))
		byDomain, err := db.Tasks(ctx, logger, models.TaskFilter{Domain: "d"})
		Expect(err).NotTo(HaveOccurred())
		Expect(byDomain).To(HaveLen(1))
	})
})
