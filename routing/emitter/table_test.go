package emitter_test

import (
	"encoding/json"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/routing/emitter"
	"github.com/diego-runtime/diego/routing/messages"
)

func desired(guid string, epoch string, index uint32, hostnames ...string) models.DesiredLRPSchedulingInfo {
	routes, _ := json.Marshal([]models.CFRoute{{Hostnames: hostnames, Port: 8080}})
	return models.DesiredLRPSchedulingInfo{
		ProcessGuid: guid, Domain: "d", Instances: 1,
		Routes:          models.Routes{models.CFRouterKey: routes},
		ModificationTag: models.ModificationTag{Epoch: epoch, Index: index},
	}
}

func running(guid string, index int, instance string, hostPort uint32, tag uint32) *models.ActualLRP {
	a := &models.ActualLRP{
		ActualLRPKey:         models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"},
		ActualLRPInstanceKey: models.ActualLRPInstanceKey{InstanceGuid: instance, CellID: "cell-1"},
		ActualLRPNetInfo: models.ActualLRPNetInfo{Address: "10.0.0.1", InstanceAddress: "10.254.0.2",
			Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: hostPort}}},
		State: models.ActualLRPStateRunning, Presence: models.PresenceOrdinary, Routable: true,
		ModificationTag: models.ModificationTag{Epoch: "a-" + instance, Index: tag},
	}
	return a
}

// summary renders messages as "register app.localhost 10.0.0.1:61001".
func summary(msgs []emitter.Message) []string {
	out := []string{}
	for _, m := range msgs {
		verb := "register"
		if m.Subject == messages.SubjectUnregister {
			verb = "unregister"
		}
		out = append(out, fmt.Sprintf("%s %s %s:%d", verb, m.Body.URIs[0], m.Body.Host, m.Body.Port))
	}
	return out
}

var _ = Describe("The routing table", func() {
	var table *emitter.Table

	BeforeEach(func() {
		table = emitter.NewTable()
	})

	It("registers a running routable instance once both routes and instance are known", func() {
		Expect(table.SetActual(running("app", 0, "i0", 61001, 1))).To(BeEmpty())
		Expect(summary(table.SetRoutes(desired("app", "e", 1, "app.localhost"), "log"))).To(Equal([]string{"register app.localhost 10.0.0.1:61001"}))
	})

	It("fills every field the gorouter reads", func() {
		table.SetRoutes(desired("app", "e", 1, "App.LocalHost"), "log-guid")
		msgs := table.SetActual(running("app", 3, "i3", 61003, 1))
		Expect(msgs).To(HaveLen(1))
		Expect(msgs[0].Body).To(Equal(messages.RegistryMessage{
			Host: "10.0.0.1", Port: 61003, URIs: []string{"app.localhost"}, App: "log-guid",
			PrivateInstanceID: "i3", PrivateInstanceIndex: "3",
			Tags: map[string]string{"component": "route-emitter", "process_guid": "app"},
		}))
	})

	It("sends one message per hostname and endpoint, and diffs hostname changes", func() {
		table.SetActual(running("app", 0, "i0", 61001, 1))
		table.SetActual(running("app", 1, "i1", 61002, 1))
		Expect(summary(table.SetRoutes(desired("app", "e", 1, "a.localhost"), ""))).To(ConsistOf(
			"register a.localhost 10.0.0.1:61001", "register a.localhost 10.0.0.1:61002"))
		Expect(summary(table.SetRoutes(desired("app", "e", 2, "b.localhost"), ""))).To(ConsistOf(
			"register b.localhost 10.0.0.1:61001", "register b.localhost 10.0.0.1:61002",
			"unregister a.localhost 10.0.0.1:61001", "unregister a.localhost 10.0.0.1:61002"))
	})

	DescribeTable("unregisters an instance as soon as it stops being RUNNING and routable",
		func(change func(*models.ActualLRP)) {
			table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
			table.SetActual(running("app", 0, "i0", 61001, 1))
			after := running("app", 0, "i0", 61001, 2)
			change(after)
			Expect(summary(table.SetActual(after))).To(Equal([]string{"unregister app.localhost 10.0.0.1:61001"}))
		},
		Entry("crashed", func(a *models.ActualLRP) { a.State = models.ActualLRPStateCrashed }),
		Entry("claimed again", func(a *models.ActualLRP) { a.State = models.ActualLRPStateClaimed }),
		Entry("not ready (readiness)", func(a *models.ActualLRP) { a.Routable = false }),
	)

	It("unregisters a removed instance and ignores a late event that would resurrect it", func() {
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		table.SetActual(running("app", 0, "i0", 61001, 3))
		Expect(summary(table.RemoveActual(running("app", 0, "i0", 61001, 4)))).To(Equal([]string{"unregister app.localhost 10.0.0.1:61001"}))
		Expect(table.SetActual(running("app", 0, "i0", 61001, 3))).To(BeEmpty())
		Expect(table.SetActual(running("app", 0, "i0", 61001, 4))).To(BeEmpty())
	})

	It("ignores an older version of an instance and a repeated one", func() {
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		table.SetActual(running("app", 0, "i0", 61001, 5))
		stale := running("app", 0, "i0", 61001, 4)
		stale.State = models.ActualLRPStateCrashed
		Expect(table.SetActual(stale)).To(BeEmpty())
		Expect(table.SetActual(running("app", 0, "i0", 61001, 5))).To(BeEmpty())
		Expect(summary(table.Registrations())).To(Equal([]string{"register app.localhost 10.0.0.1:61001"}))
	})

	It("keeps an evacuating copy registered next to its replacement, and drops only the copy that goes", func() {
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		evacuating := running("app", 0, "old", 61001, 1)
		evacuating.Presence = models.PresenceEvacuating
		table.SetActual(evacuating)
		Expect(summary(table.SetActual(running("app", 0, "new", 62001, 1)))).To(Equal([]string{"register app.localhost 10.0.0.1:62001"}))
		Expect(summary(table.Registrations())).To(HaveLen(2))
		Expect(summary(table.RemoveActual(evacuating))).To(Equal([]string{"unregister app.localhost 10.0.0.1:61001"}))
	})

	It("never unregisters an endpoint a suspect copy still serves", func() {
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		ordinary := running("app", 0, "i0", 61001, 1)
		table.SetActual(ordinary)
		suspect := running("app", 0, "i0", 61001, 2)
		suspect.Presence = models.PresenceSuspect
		Expect(table.SetActual(suspect)).To(BeEmpty())
		replacement := running("app", 0, "i0", 61001, 2)
		replacement.State = models.ActualLRPStateUnclaimed
		Expect(table.SetActual(replacement)).To(BeEmpty())
		Expect(summary(table.Registrations())).To(Equal([]string{"register app.localhost 10.0.0.1:61001"}))
	})

	It("unregisters everything of a removed desired LRP", func() {
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		table.SetActual(running("app", 0, "i0", 61001, 1))
		Expect(summary(table.RemoveRoutes("app"))).To(Equal([]string{"unregister app.localhost 10.0.0.1:61001"}))
	})

	It("replaces the table with a full sync and publishes only the differences", func() {
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		table.SetActual(running("app", 0, "i0", 61001, 1))
		table.SetActual(running("app", 1, "i1", 61002, 1))

		fresh := emitter.NewTable()
		fresh.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		fresh.SetActual(running("app", 0, "i0", 61001, 1))
		fresh.SetActual(running("app", 2, "i2", 61003, 1))
		Expect(summary(table.Replace(fresh))).To(Equal([]string{
			"register app.localhost 10.0.0.1:61003", "unregister app.localhost 10.0.0.1:61002"}))
	})
})
