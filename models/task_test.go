package models_test

import (
	"errors"
	"strings"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Task lifecycle", func() {
	const (
		pending   = models.TaskStatePending
		running   = models.TaskStateRunning
		completed = models.TaskStateCompleted
		resolving = models.TaskStateResolving
	)
	task := func(state string) *models.Task {
		t := validTask()
		t.State = state
		return t
	}

	DescribeTable("CheckTransition: one row per (from, to)",
		func(from, to string, allowed bool) {
			err := task(from).CheckTransition(to)
			if allowed {
				Expect(err).NotTo(HaveOccurred())
			} else {
				Expect(errors.Is(err, models.ErrInvalidStateTransition)).To(BeTrue(), "got %v", err)
			}
		},
		EntryDescription("%s -> %s allowed: %v"),
		Entry(nil, pending, pending, false),
		Entry(nil, pending, running, true),
		Entry(nil, pending, completed, true),
		Entry(nil, pending, resolving, false),
		Entry(nil, running, pending, false),
		Entry(nil, running, running, false),
		Entry(nil, running, completed, true),
		Entry(nil, running, resolving, false),
		Entry(nil, completed, pending, false),
		Entry(nil, completed, running, false),
		Entry(nil, completed, completed, false),
		Entry(nil, completed, resolving, true),
		Entry(nil, resolving, pending, false),
		Entry(nil, resolving, running, false),
		Entry(nil, resolving, completed, true),
		Entry(nil, resolving, resolving, false),
		Entry(nil, pending, "DONE", false),
		Entry(nil, "", running, false),
	)

	DescribeTable("CheckCancel, CheckDelete and CheckResolve by state",
		func(state string, cancel, del, resolve error) {
			t := task(state)
			for _, c := range []struct {
				got, want error
			}{{t.CheckCancel(), cancel}, {t.CheckDelete(), del}, {t.CheckResolve(), resolve}} {
				if c.want == nil {
					Expect(c.got).NotTo(HaveOccurred())
				} else {
					Expect(errors.Is(c.got, c.want)).To(BeTrue(), "want %v, got %v", c.want, c.got)
					Expect(models.AsError(c.got).Status).To(Equal(409))
				}
			}
		},
		Entry("PENDING", pending, nil, models.ErrTaskNotDeletable, models.ErrInvalidStateTransition),
		Entry("RUNNING", running, nil, models.ErrTaskNotDeletable, models.ErrInvalidStateTransition),
		Entry("COMPLETED", completed, models.ErrTaskNotCancelable, nil, models.ErrInvalidStateTransition),
		Entry("RESOLVING", resolving, models.ErrTaskNotCancelable, models.ErrTaskNotDeletable, nil),
	)

	DescribeTable("CheckCell: which cell may act on a task",
		func(state, taskCell, caller string, allowed bool) {
			t := task(state)
			t.CellID = taskCell
			err := t.CheckCell(caller)
			if allowed {
				Expect(err).NotTo(HaveOccurred())
			} else {
				Expect(errors.Is(err, models.ErrTaskCellMismatch)).To(BeTrue(), "got %v", err)
				Expect(models.AsError(err).Status).To(Equal(409))
			}
		},
		Entry("PENDING, any cell", pending, "", "cell-b", true),
		Entry("PENDING, a placement rejection", pending, "", "", true),
		Entry("RUNNING, its own cell", running, "cell-a", "cell-a", true),
		Entry("RUNNING, another cell", running, "cell-a", "cell-b", false),
		Entry("RUNNING, a placement rejection (no cell)", running, "cell-a", "", false),
		Entry("COMPLETED: CheckTransition decides", completed, "cell-a", "cell-b", true),
	)

	It("names the failure reasons the system writes", func() {
		Expect(models.TaskFailureCancelled).To(Equal("task was cancelled"))
		Expect(models.TaskFailureNotStarted).To(Equal("not started within time limit"))
		Expect(models.TaskFailureCellDisappeared).To(Equal("cell disappeared before completion"))
	})

	DescribeTable("TruncateResult keeps at most 10,240 bytes",
		func(in string, wantLen int) {
			out := models.TruncateResult(in)
			Expect(out).To(HaveLen(wantLen))
			Expect(strings.HasPrefix(in, out)).To(BeTrue())
			if utf8.ValidString(in) {
				Expect(utf8.ValidString(out)).To(BeTrue())
			}
		},
		Entry("short", "hello", 5),
		Entry("empty", "", 0),
		Entry("exactly the limit", strings.Repeat("a", models.MaxResultBytes), 10240),
		Entry("over the limit", strings.Repeat("a", 20000), 10240),
		// 10239 ASCII bytes then a 3-byte rune straddling the limit.
		Entry("a rune across the limit is dropped whole", strings.Repeat("a", 10239)+"€€", 10239),
		Entry("a rune ending at the limit is kept", strings.Repeat("a", 10237)+"€b", 10240),
		Entry("invalid UTF-8 is still capped", strings.Repeat("\x80", 20000), 10236),
	)
})
