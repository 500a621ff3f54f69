package models_test

import (
	"encoding/json"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Action", func() {
	run := models.Run(models.RunAction{Path: "/bin/true"})

	DescribeTable("Kind, Inner and Children",
		func(a *models.Action, kind string, inner any, children int) {
			Expect(a.Kind()).To(Equal(kind))
			switch {
			case kind == "":
				Expect(a.Inner()).To(BeNil())
			case inner != nil:
				Expect(a.Inner()).To(BeIdenticalTo(inner))
			default:
				Expect(a.Inner()).NotTo(BeNil())
			}
			Expect(a.Children()).To(HaveLen(children))
		},
		Entry("run", run, "run", run.Run, 0),
		Entry("download", models.Download(models.DownloadAction{From: "http://h/x", To: "/x"}), "download", nil, 0),
		Entry("upload", models.Upload(models.UploadAction{From: "/x", To: "http://h/x"}), "upload", nil, 0),
		Entry("serial", models.Serial(run, run), "serial", nil, 2),
		Entry("parallel", models.Parallel(run), "parallel", nil, 1),
		Entry("codependent", models.Codependent(run, run, run), "codependent", nil, 3),
		Entry("try", models.Try(run), "try", nil, 1),
		Entry("timeout", models.Timeout(run, time.Second), "timeout", nil, 1),
		Entry("emit_progress", models.EmitProgress(run, "a", "b", "c"), "emit_progress", nil, 1),
		Entry("none", &models.Action{}, "", nil, 0),
		Entry("two", &models.Action{Run: run.Run, Try: &models.TryAction{Action: run}}, "", nil, 0),
		Entry("nil", (*models.Action)(nil), "", nil, 0),
	)

	It("returns the set value from Inner for every kind", func() {
		a := models.Serial(run)
		Expect(a.Inner()).To(BeIdenticalTo(a.Serial))
		t := models.Timeout(run, 1500*time.Millisecond)
		Expect(t.Inner()).To(BeIdenticalTo(t.Timeout))
		Expect(t.Timeout.Timeout).To(Equal(int64(1500 * time.Millisecond)))
		e := models.EmitProgress(run, "start", "ok", "fail")
		Expect(e.EmitProgress).To(Equal(&models.EmitProgressAction{Action: run, StartMessage: "start", SuccessMessage: "ok", FailureMessagePrefix: "fail"}))
	})

	It("validates on its own, naming fields relative to itself", func() {
		Expect(models.Serial(run, models.Run(models.RunAction{})).Validate()).To(MatchError(ContainSubstring("serial.actions[1].run.path")))
		Expect(fieldsOf(models.Serial(run, models.Run(models.RunAction{})).Validate())).To(ConsistOf("serial.actions[1].run.path"))
		Expect(fieldsOf((&models.Action{}).Validate())).To(ConsistOf("action"))
		Expect(fieldsOf((*models.Action)(nil).Validate())).To(ConsistOf("action"))
		Expect(run.Validate()).To(Succeed())
	})

	Describe("JSON", func() {
		It("encodes as an object with exactly one key and decodes back", func() {
			a := models.Serial(
				models.Download(models.DownloadAction{From: "http://h/x.tgz", To: "/x", CacheKey: "k"}),
				models.Timeout(models.Try(models.Run(models.RunAction{Path: "/x/run", Args: []string{"a"}})), time.Minute),
			)
			b, err := json.Marshal(a)
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(MatchJSON(`{"serial":{"actions":[
				{"download":{"from":"http://h/x.tgz","to":"/x","cache_key":"k","user":""}},
				{"timeout":{"timeout":60000000000,"action":{"try":{"action":{"run":{"path":"/x/run","args":["a"],"resource_limits":{},"user":""}}}}}}
			]}}`))
			var back models.Action
			Expect(json.Unmarshal(b, &back)).To(Succeed())
			Expect(&back).To(Equal(a))
		})

		DescribeTable("decodes an object of the wrong shape, which validation then names by its path",
			func(body, field, reason string) {
				var a models.Action
				Expect(json.Unmarshal([]byte(body), &a)).To(Succeed())
				Expect(a.Kind()).To(BeEmpty())
				err := a.Validate()
				Expect(fieldsOf(err)).To(ConsistOf(field))
				Expect(err).To(MatchError(ContainSubstring(reason)))
			},
			Entry("two keys", `{"run":{"path":"/a"},"try":{"action":{"run":{"path":"/b"}}}}`, "action", "exactly one key naming the action kind, got 2 (run, try)"),
			Entry("no key", `{}`, "action", "exactly one key naming the action kind, got 0"),
			Entry("an unknown kind", `{"exec":{"path":"/a"}}`, "action", `unknown action kind "exec"`),
			Entry("a differently cased kind", `{"Run":{"path":"/a"}}`, "action", `unknown action kind "Run"`),
			Entry("a null kind", `{"run":null}`, "action", "run must be an object, not null"),
		)

		It("names a malformed node deep in the tree by its path", func() {
			var a models.Action
			Expect(json.Unmarshal([]byte(`{"serial":{"actions":[{"run":{"path":"/a"}},
				{"try":{"action":{"run":{"path":"/a"},"upload":{"from":"a","to":"http://h/b"}}}}]}}`), &a)).To(Succeed())
			Expect(a.Kind()).To(Equal(models.ActionKindSerial))
			Expect(fieldsOf(a.Validate())).To(ConsistOf("serial.actions[1].try.action"))
		})

		DescribeTable("refuses what is not an action object, or a body it cannot take",
			func(body, reason string) {
				var a models.Action
				Expect(json.Unmarshal([]byte(body), &a)).To(MatchError(ContainSubstring(reason)))
			},
			Entry("a field of the wrong type", `{"run":{"path":7}}`, "run action"),
			Entry("an unknown field", `{"run":{"path":"/a","privileged":true}}`, `unknown field "privileged"`),
			Entry("an unknown field deep inside", `{"serial":{"actions":[{"timeout":{"action":{"run":{"path":"/a"}},"timeout_ms":5}}]}}`, `unknown field "timeout_ms"`),
			Entry("a list", `[]`, "cannot unmarshal"),
			Entry("a string", `"run"`, "cannot unmarshal"),
		)

		It("leaves a null action nil", func() {
			var d models.DesiredLRP
			Expect(json.Unmarshal([]byte(`{"action":null}`), &d)).To(Succeed())
			Expect(d.Action).To(BeNil())
			Expect(fieldsOf(d.Validate())).To(ContainElement("action"))
		})

		It("refuses a two-key action inside a desired LRP body as InvalidLRP naming it", func() {
			_, err := models.DecodeDesiredLRP([]byte(`{"process_guid":"p","domain":"d","rootfs":"preloaded:x",
				"action":{"run":{"path":"/a"},"download":{"from":"http://h/x","to":"/x"}}}`))
			Expect(errors.Is(err, models.ErrInvalidLRP)).To(BeTrue(), "got %v", err)
			Expect(fieldsOf(err)).To(ConsistOf("action"))
		})

		It("refuses an unknown field inside an action of a desired LRP body as InvalidJSON", func() {
			_, err := models.DecodeDesiredLRP([]byte(`{"process_guid":"p","domain":"d","rootfs":"preloaded:x",
				"action":{"run":{"path":"/a","colour":"red"}}}`))
			Expect(errors.Is(err, models.ErrInvalidJSON)).To(BeTrue(), "got %v", err)
			Expect(err).To(MatchError(ContainSubstring("colour")))
		})
	})
})
