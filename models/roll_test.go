package models_test

import (
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Rolling changes", func() {
	Describe("RunVersion", func() {
		It("changes with what an instance runs and comes back when the change is undone", func() {
			d := validDesiredLRP()
			v1 := d.RunVersion()
			image := "docker:///busybox#2"
			changed := (&models.DesiredLRPUpdate{RootFS: &image}).Apply(*d)
			Expect(changed.RunVersion()).NotTo(Equal(v1))
			back := (&models.DesiredLRPUpdate{RootFS: &d.RootFS}).Apply(changed)
			Expect(back.RunVersion()).To(Equal(v1))
		})

		It("does not change with instances, routes, annotation or the roll policy", func() {
			d := validDesiredLRP()
			n, note := 9, "other"
			u := models.DesiredLRPUpdate{Instances: &n, Annotation: &note, Routes: &models.Routes{},
				RollPolicy: &models.RollPolicy{MaxSurge: 3}}
			after := u.Apply(*d)
			Expect(after.RunVersion()).To(Equal(d.RunVersion()))
		})
	})

	Describe("DesiredLRPUpdate of the run definition", func() {
		It("decodes, validates and applies every field a roll may change", func() {
			u, err := models.DecodeDesiredLRPUpdate([]byte(`{"rootfs":"docker:///app#2","env":[{"name":"V","value":"2"}],
				"memory_mb":64,"disk_mb":128,"ports":[9090],"start_timeout":5,
				"action":{"run":{"path":"/app"}},"check_definition":{"checks":[{"tcp_check":{"port":9090}}]},
				"roll_policy":{"max_surge":2,"max_unavailable":1}}`))
			Expect(err).NotTo(HaveOccurred())
			Expect(u.ChangesRun()).To(BeTrue())
			after := u.Apply(*validDesiredLRP())
			Expect(after.RootFS).To(Equal("docker:///app#2"))
			Expect(after.Env).To(Equal([]models.EnvVar{{Name: "V", Value: "2"}}))
			Expect(after.MemoryMB).To(Equal(64))
			Expect(after.Ports).To(Equal([]uint32{9090}))
			Expect(after.StartTimeout).To(Equal(uint(5)))
			Expect(after.Action.Run.Path).To(Equal("/app"))
			Expect(after.CheckDefinition.Checks[0].TCPCheck.Port).To(Equal(uint32(9090)))
			Expect(after.RollPolicy).To(Equal(&models.RollPolicy{MaxSurge: 2, MaxUnavailable: 1}))
			Expect(after.Validate()).To(Succeed())
		})

		DescribeTable("refuses a bad value, naming the field",
			func(body, field string) {
				_, err := models.DecodeDesiredLRPUpdate([]byte(body))
				Expect(errors.Is(err, models.ErrInvalidRequest)).To(BeTrue(), "got %v", err)
				Expect(fieldsOf(err)).To(ContainElement(field))
			},
			Entry("an unknown rootfs scheme", `{"rootfs":"ftp://x"}`, "rootfs"),
			Entry("a negative memory limit", `{"memory_mb":-1}`, "memory_mb"),
			Entry("port 0", `{"ports":[0]}`, "ports[0]"),
			Entry("a check without a kind", `{"check_definition":{"checks":[{}]}}`, "check_definition.checks[0]"),
			Entry("a roll policy that allows nothing", `{"roll_policy":{"max_surge":0,"max_unavailable":0}}`, "roll_policy"),
			Entry("a negative surge", `{"roll_policy":{"max_surge":-1,"max_unavailable":1}}`, "roll_policy.max_surge"),
		)

		It("leaves version and roll of a posted record to the store", func() {
			d := validDesiredLRP()
			d.Version, d.Roll = "forged", &models.RollStatus{State: models.RollStateDone}
			body, err := json.Marshal(d)
			Expect(err).NotTo(HaveOccurred())
			got, err := models.DecodeDesiredLRP(body)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Version).To(BeEmpty())
			Expect(got.Roll).To(BeNil())
		})
	})

	Describe("RollProgress", func() {
		info := &models.DesiredLRPSchedulingInfo{ProcessGuid: "web", Instances: 3, Version: "v2"}
		rec := func(index int, presence, state, version string, crashes int) *models.ActualLRP {
			return &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "web", Index: index},
				Presence: presence, State: state, Version: version, CrashCount: crashes, CrashReason: "Exited with status 1"}
		}
		const (
			ord, evac = models.PresenceOrdinary, models.PresenceEvacuating
			run, unc  = models.ActualLRPStateRunning, models.ActualLRPStateUnclaimed
		)
		DescribeTable("counts updated instances and says whether the roll is rolling, halted or done",
			func(actuals []*models.ActualLRP, want models.RollStatus) {
				Expect(models.RollProgress(info, actuals)).To(Equal(want))
			},
			Entry("nothing rolled yet", []*models.ActualLRP{rec(0, ord, run, "v1", 0), rec(1, ord, run, "v1", 0), rec(2, ord, run, "v1", 0)},
				models.RollStatus{State: models.RollStateRolling, Updated: 0, Total: 3}),
			Entry("one replaced, its old copy still serving", []*models.ActualLRP{rec(0, evac, run, "v1", 0), rec(0, ord, run, "v2", 0),
				rec(1, ord, run, "v1", 0), rec(2, ord, run, "v1", 0)},
				models.RollStatus{State: models.RollStateRolling, Updated: 1, Total: 3}),
			Entry("a new instance crashed twice", []*models.ActualLRP{rec(0, evac, run, "v1", 0), rec(0, ord, unc, "v2", 2),
				rec(1, ord, run, "v1", 0), rec(2, ord, run, "v1", 0)},
				models.RollStatus{State: models.RollStateHalted, Updated: 0, Total: 3,
					Reason: "instance 0 of the new version crashed 2 times: Exited with status 1"}),
			Entry("every instance current", []*models.ActualLRP{rec(0, ord, run, "v2", 0), rec(1, ord, run, "v2", 0), rec(2, ord, run, "v2", 0)},
				models.RollStatus{State: models.RollStateDone, Updated: 3, Total: 3}),
			Entry("instances from before versions count as neither old nor updated", []*models.ActualLRP{rec(0, ord, run, "", 0)},
				models.RollStatus{State: models.RollStateDone, Updated: 0, Total: 3}),
		)

		It("is empty for an LRP without a version", func() {
			Expect(models.RollProgress(&models.DesiredLRPSchedulingInfo{Instances: 1}, nil)).To(Equal(models.RollStatus{}))
		})
	})
})
