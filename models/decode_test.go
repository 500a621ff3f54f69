package models_test

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Decoding request bodies", func() {
	DescribeTable("DecodeJSON refuses what is not one well-typed value as InvalidJSON",
		func(body string) {
			var d models.DesiredLRP
			err := models.DecodeJSON([]byte(body), &d)
			Expect(errors.Is(err, models.ErrInvalidJSON)).To(BeTrue(), "got %v", err)
			Expect(models.AsError(err).Status).To(Equal(400))
		},
		Entry("empty", ``),
		Entry("whitespace", " \n"),
		Entry("null", `null`),
		Entry("broken", `{"process_guid":`),
		Entry("a string where a number goes", `{"instances":"two"}`),
		Entry("a float where an int goes", `{"instances":1.5}`),
		Entry("a number where a string goes", `{"process_guid":7}`),
		Entry("an object where a list goes", `{"ports":{"a":1}}`),
		Entry("a negative port", `{"ports":[-1]}`),
		Entry("a list at the top", `[{"process_guid":"p"}]`),
		Entry("two values", `{"process_guid":"p"} {"process_guid":"q"}`),
		Entry("trailing garbage", `{"process_guid":"p"}x`),
		Entry("an action of the wrong shape", `{"action":{"run":"ls"}}`),
		Entry("an unknown field inside an action", `{"action":{"run":{"path":"/a","colour":"red"}}}`),
	)

	It("refuses deep nesting quickly, before decoding it", func() {
		n := 5000
		body := strings.Repeat(`{"try":{"action":`, n) + `{"run":{"path":"/a"}}` + strings.Repeat(`}}`, n)
		start := time.Now()
		var a models.Action
		err := models.DecodeJSON([]byte(body), &a)
		Expect(errors.Is(err, models.ErrInvalidJSON)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("deeper than 128"))
		Expect(time.Since(start)).To(BeNumerically("<", 100*time.Millisecond))
	})

	It("counts only brackets outside strings", func() {
		var d models.DesiredLRP
		body := `{"annotation":"` + strings.Repeat(`[{\"`, 500) + `"}`
		Expect(models.DecodeJSON([]byte(body), &d)).To(Succeed())
		Expect(d.Annotation).To(HavePrefix(`[{"[{`))
	})

	It("accepts the deepest valid action tree", func() {
		b, err := json.Marshal(nestedTries(models.MaxActionDepth))
		Expect(err).NotTo(HaveOccurred())
		var a models.Action
		Expect(models.DecodeJSON(b, &a)).To(Succeed())
		Expect(a.Validate()).To(Succeed())
	})

	It("ignores unknown fields, unless strict", func() {
		var d models.DesiredLRP
		Expect(models.DecodeJSON([]byte(`{"process_guid":"p","colour":"red"}`), &d)).To(Succeed())
		Expect(d.ProcessGuid).To(Equal("p"))
		err := models.DecodeJSONStrict([]byte(`{"process_guid":"p","colour":"red"}`), &d)
		Expect(errors.Is(err, models.ErrInvalidJSON)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("colour"))
	})

	Describe("DecodeDesiredLRP", func() {
		It("round-trips a valid desired LRP", func() {
			b, err := json.Marshal(validDesiredLRP())
			Expect(err).NotTo(HaveOccurred())
			d, err := models.DecodeDesiredLRP(b)
			Expect(err).NotTo(HaveOccurred())
			Expect(d).To(Equal(validDesiredLRP()))
		})

		It("refuses an invalid one as InvalidLRP naming the field", func() {
			_, err := models.DecodeDesiredLRP([]byte(`{"process_guid":"p","domain":"d","rootfs":"ftp://x","memory_mb":-5,
				"action":{"run":{"path":"/a"}}}`))
			Expect(errors.Is(err, models.ErrInvalidLRP)).To(BeTrue())
			Expect(fieldsOf(err)).To(ConsistOf("rootfs", "memory_mb"))
		})
	})

	Describe("DecodeDesiredLRPUpdate", func() {
		It("decodes the mutable fields", func() {
			u, err := models.DecodeDesiredLRPUpdate([]byte(`{"instances":4,"annotation":"new"}`))
			Expect(err).NotTo(HaveOccurred())
			Expect(*u.Instances).To(Equal(4))
			Expect(*u.Annotation).To(Equal("new"))
			Expect(u.Routes).To(BeNil())
		})

		It("refuses an immutable field as InvalidRequest", func() {
			_, err := models.DecodeDesiredLRPUpdate([]byte(`{"instances":4,"domain":"d"}`))
			Expect(errors.Is(err, models.ErrInvalidRequest)).To(BeTrue())
			Expect(fieldsOf(err)).To(ConsistOf("domain"))
		})

		It("refuses a bad value as InvalidRequest", func() {
			_, err := models.DecodeDesiredLRPUpdate([]byte(`{"instances":-4}`))
			Expect(errors.Is(err, models.ErrInvalidRequest)).To(BeTrue())
			Expect(fieldsOf(err)).To(ConsistOf("instances"))
		})

		It("refuses a wrong type as InvalidJSON", func() {
			_, err := models.DecodeDesiredLRPUpdate([]byte(`{"instances":"4"}`))
			Expect(errors.Is(err, models.ErrInvalidJSON)).To(BeTrue())
		})
	})

	Describe("DecodeTask", func() {
		It("decodes a valid task and drops the status a client sent", func() {
			t := validTask()
			t.State, t.CellID, t.Failed, t.Result = models.TaskStateCompleted, "cell-9", true, "forged"
			b, err := json.Marshal(t)
			Expect(err).NotTo(HaveOccurred())
			got, err := models.DecodeTask(b)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(validTask()))
		})

		It("refuses an invalid task as InvalidTask naming the field", func() {
			_, err := models.DecodeTask([]byte(`{"task_guid":"t","domain":"d","rootfs":"preloaded:x","action":{"run":{"path":"/a"}},
				"completion_callback_url":"not a url"}`))
			Expect(errors.Is(err, models.ErrInvalidTask)).To(BeTrue())
			Expect(fieldsOf(err)).To(ConsistOf("completion_callback_url"))
		})

		It("refuses a wrong type as InvalidJSON", func() {
			_, err := models.DecodeTask([]byte(`{"task_guid":"t","memory_mb":"lots"}`))
			Expect(errors.Is(err, models.ErrInvalidJSON)).To(BeTrue())
		})
	})
})
