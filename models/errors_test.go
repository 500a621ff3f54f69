package models_test

import (
	"errors"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("The wire errors", func() {
	DescribeTable("keep the 2015 receptor's names and statuses",
		func(e *models.Error, name string, status int) {
			Expect(e.Name).To(Equal(name))
			Expect(e.Status).To(Equal(status))
			Expect(errors.Is(e.WithMessage("detail"), e)).To(BeTrue())
		},
		Entry(nil, models.ErrInvalidJSON, "InvalidJSON", http.StatusBadRequest),
		Entry(nil, models.ErrInvalidRequest, "InvalidRequest", http.StatusBadRequest),
		Entry(nil, models.ErrInvalidLRP, "InvalidLRP", http.StatusBadRequest),
		Entry(nil, models.ErrInvalidTask, "InvalidTask", http.StatusBadRequest),
		Entry(nil, models.ErrUnauthorized, "Unauthorized", http.StatusUnauthorized),
		Entry(nil, models.ErrTaskNotFound, "TaskNotFound", http.StatusNotFound),
		Entry(nil, models.ErrTaskGuidAlreadyExists, "TaskGuidAlreadyExists", http.StatusConflict),
		Entry(nil, models.ErrTaskNotDeletable, "TaskNotDeletable", http.StatusConflict),
		Entry("a cell acting on another cell's task", models.ErrTaskCellMismatch, "TaskCellMismatch", http.StatusConflict),
		Entry("a lost modification-tag race", models.ErrResourceConflict, "ResourceConflict", http.StatusConflict),
		Entry(nil, models.ErrUnknown, "UnknownError", http.StatusInternalServerError),
	)
})
