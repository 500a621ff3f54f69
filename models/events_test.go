package models_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Events", func() {
	d := &models.DesiredLRP{ProcessGuid: "pg", Domain: "d"}
	a := &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "pg", Index: 2, Domain: "d"}, State: models.ActualLRPStateUnclaimed}
	t := &models.Task{TaskGuid: "tg", Domain: "d", State: models.TaskStatePending}

	DescribeTable("constructors set the type and exactly the bodies of DESIGN 9",
		func(e models.Event, typ string, keys []string, key, processGuid, taskGuid string) {
			Expect(e.ID).To(Equal(int64(42)))
			Expect(e.Type).To(Equal(typ))
			Expect(e.Check()).To(Succeed())
			Expect(e.Key()).To(Equal(key))
			Expect(e.ProcessGuid()).To(Equal(processGuid))
			Expect(e.TaskGuid()).To(Equal(taskGuid))

			b, err := json.Marshal(e)
			Expect(err).NotTo(HaveOccurred())
			var m map[string]json.RawMessage
			Expect(json.Unmarshal(b, &m)).To(Succeed())
			Expect(m).To(HaveLen(len(keys)))
			for _, k := range keys {
				Expect(m).To(HaveKey(k))
			}

			back, err := models.DecodeEvent(42, typ, b)
			Expect(err).NotTo(HaveOccurred())
			Expect(back).To(Equal(e))
		},
		Entry("desired_lrp_created", models.NewDesiredLRPCreatedEvent(42, d), "desired_lrp_created", []string{"desired_lrp"}, "desired_lrp/pg", "pg", ""),
		Entry("desired_lrp_changed", models.NewDesiredLRPChangedEvent(42, d, d), "desired_lrp_changed", []string{"desired_lrp_before", "desired_lrp_after"}, "desired_lrp/pg", "pg", ""),
		Entry("desired_lrp_removed", models.NewDesiredLRPRemovedEvent(42, d), "desired_lrp_removed", []string{"desired_lrp"}, "desired_lrp/pg", "pg", ""),
		Entry("actual_lrp_created", models.NewActualLRPCreatedEvent(42, a), "actual_lrp_created", []string{"actual_lrp"}, "actual_lrp/pg/2", "pg", ""),
		Entry("actual_lrp_changed", models.NewActualLRPChangedEvent(42, a, a), "actual_lrp_changed", []string{"actual_lrp_before", "actual_lrp_after"}, "actual_lrp/pg/2", "pg", ""),
		Entry("actual_lrp_removed", models.NewActualLRPRemovedEvent(42, a), "actual_lrp_removed", []string{"actual_lrp"}, "actual_lrp/pg/2", "pg", ""),
		Entry("task_created", models.NewTaskCreatedEvent(42, t), "task_created", []string{"task"}, "task/tg", "", "tg"),
		Entry("task_changed", models.NewTaskChangedEvent(42, t, t), "task_changed", []string{"task_before", "task_after"}, "task/tg", "", "tg"),
		Entry("task_removed", models.NewTaskRemovedEvent(42, t), "task_removed", []string{"task"}, "task/tg", "", "tg"),
	)

	DescribeTable("DecodeEvent refuses a body that does not fit its type",
		func(typ, data string) {
			_, err := models.DecodeEvent(1, typ, []byte(data))
			Expect(err).To(HaveOccurred())
		},
		Entry("an unknown type", "lrp_exploded", `{"desired_lrp":{}}`),
		Entry("created without its body", "task_created", `{}`),
		Entry("changed with only after", "actual_lrp_changed", `{"actual_lrp_after":{}}`),
		Entry("the body of another type", "task_removed", `{"desired_lrp":{}}`),
		Entry("an extra body", "desired_lrp_created", `{"desired_lrp":{},"task":{}}`),
		Entry("not JSON", "task_created", `{`),
	)
})
