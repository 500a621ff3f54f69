package converger_test

import (
	"time"

	"code.cloudfoundry.org/clock/fakeclock"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/models"
)

// Issue 19, item 2: a presence blip must not fail the tasks of a healthy cell.
// A RUNNING task whose cell is absent fails only once the cell has been absent
// for the grace; a cell that registers again within it keeps its task.
var _ = Describe("A RUNNING task whose cell's presence lapses", func() {
	var (
		w     *world
		clock *fakeclock.FakeClock
		conv  *converger.Converger
	)
	const grace = 30 * time.Second

	BeforeEach(func() {
		w = newWorld()
		clock = fakeclock.NewFakeClock(time.Now())
		conv = converger.New(converger.Options{Logger: w.logger, Clock: clock, BBS: w.db,
			Config: converger.Config{Rules: converger.Rules{AbsentCellTaskGrace: grace}}})
		def := &models.TaskDefinition{RootFS: "docker:///library/busybox", MemoryMB: 16, DiskMB: 16,
			Action: &models.Action{Run: &models.RunAction{Path: "/bin/true"}}}
		Expect(w.db.DesireTask(w.ctx, w.logger, "job", freshDomain, def)).To(Succeed())
		lease := w.register("cell-x", 30)
		started, err := w.db.StartTask(w.ctx, w.logger, "job", "cell-x")
		Expect(err).NotTo(HaveOccurred())
		Expect(started).To(BeTrue())

		By("the cell's presence lapsing")
		_, err = etcdClient.Revoke(w.ctx, clientv3.LeaseID(lease))
		Expect(err).NotTo(HaveOccurred())
	})

	task := func() *models.Task {
		t, err := w.db.TaskByGuid(w.ctx, w.logger, "job")
		Expect(err).NotTo(HaveOccurred())
		return t
	}
	pass := func() converger.Report {
		r, err := conv.Pass(w.ctx)
		Expect(err).NotTo(HaveOccurred())
		return r
	}

	It("keeps the task RUNNING within the grace, and the cell that comes back completes it", func() {
		pass()
		Expect(task().State).To(Equal(models.TaskStateRunning))
		clock.Increment(grace - time.Second)
		pass()
		Expect(task().State).To(Equal(models.TaskStateRunning))

		By("the cell registering again; its task completes normally")
		w.register("cell-x", 30)
		clock.Increment(time.Hour)
		pass()
		Expect(task().State).To(Equal(models.TaskStateRunning))
		Expect(w.db.CompleteTask(w.ctx, w.logger, "job", "cell-x", false, "", "done")).To(Succeed())
		t := task()
		Expect(t.State).To(Equal(models.TaskStateCompleted))
		Expect(t.Failed).To(BeFalse())
		Expect(t.Result).To(Equal("done"))
	})

	It("fails the task once the cell has been absent for the grace, saying why", func() {
		pass()
		clock.Increment(grace)
		pass()
		t := task()
		Expect(t.State).To(Equal(models.TaskStateCompleted))
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(Equal(models.TaskFailureCellDisappeared))
	})

	It("times each absence afresh: a cell that came back and lapsed again gets the whole grace again", func() {
		pass()
		clock.Increment(grace - time.Second)
		lease := w.register("cell-x", 30)
		pass()
		_, err := etcdClient.Revoke(w.ctx, clientv3.LeaseID(lease))
		Expect(err).NotTo(HaveOccurred())
		clock.Increment(time.Second)
		pass()
		clock.Increment(grace - time.Second)
		pass()
		Expect(task().State).To(Equal(models.TaskStateRunning))
		clock.Increment(time.Second)
		pass()
		Expect(task().FailureReason).To(Equal(models.TaskFailureCellDisappeared))
	})
})
