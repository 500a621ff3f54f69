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

// desired asks for 10 instances, enough for every index the specs run.
func desired(guid string, epoch string, index uint32, hostnames ...string) models.DesiredLRPSchedulingInfo {
	return scaled(desiredInstances, guid, epoch, index, hostnames...)
}

const desiredInstances = 10

func scaled(instances int, guid string, epoch string, index uint32, hostnames ...string) models.DesiredLRPSchedulingInfo {
	routes, _ := json.Marshal([]models.CFRoute{{Hostnames: hostnames, Port: 8080}})
	return models.DesiredLRPSchedulingInfo{
		ProcessGuid: guid, Domain: "d", Instances: instances,
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
		Since:           1_700_000_000_000_000_000 + int64(tag),
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

	It("fills every field the gorouter reads that Diego knows", func() {
		table.SetCells([]*models.CellPresence{{CellID: "cell-1", Zone: "z2", IsolationSegment: "secure"}})
		table.SetRoutes(desired("app", "e", 1, "App.LocalHost"), "8b5c2a9e-log-guid")
		msgs := table.SetActual(running("app", 3, "i3", 61003, 7))
		Expect(msgs).To(HaveLen(1))
		Expect(msgs[0].Body).To(Equal(messages.RegistryMessage{
			Host: "10.0.0.1", Port: 61003, URIs: []string{"app.localhost"}, App: "8b5c2a9e-log-guid",
			PrivateInstanceID: "i3", PrivateInstanceIndex: "3",
			Tags: map[string]string{"component": "route-emitter", "app_id": "8b5c2a9e-log-guid",
				"process_id": "app", "process_instance_id": "i3", "instance_id": "3"},
			EndpointUpdatedAtNs: 1_700_000_000_000_000_007,
			AvailabilityZone:    "z2", IsolationSegment: "secure",
		}))
		By("serialising them under gorouter's names")
		data, err := json.Marshal(msgs[0].Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).To(And(ContainSubstring(`"endpoint_updated_at_ns":1700000000000000007`),
			ContainSubstring(`"availability_zone":"z2"`), ContainSubstring(`"isolation_segment":"secure"`),
			ContainSubstring(`"private_instance_id":"i3"`), ContainSubstring(`"private_instance_index":"3"`)))
	})

	It("leaves out what it does not know: no log guid, no isolation segment, a cell it has not seen", func() {
		table.SetCells([]*models.CellPresence{{CellID: "cell-1", Zone: "z1"}})
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		msgs := table.SetActual(running("app", 0, "i0", 61001, 1))
		Expect(msgs).To(HaveLen(1))
		Expect(msgs[0].Body.App).To(BeEmpty())
		Expect(msgs[0].Body.Tags).NotTo(HaveKey("app_id"))
		Expect(msgs[0].Body.AvailabilityZone).To(Equal("z1"))
		Expect(msgs[0].Body.IsolationSegment).To(BeEmpty())

		elsewhere := running("app", 1, "i1", 61002, 1)
		elsewhere.CellID = "cell-unknown"
		Expect(table.KnowsCell("cell-unknown")).To(BeFalse())
		msgs = table.SetActual(elsewhere)
		Expect(msgs).To(HaveLen(1))
		Expect(msgs[0].Body.AvailabilityZone).To(BeEmpty())
	})

	It("withdraws the indices a scale-down drops at once, while their instances still run", func() {
		table.SetRoutes(scaled(3, "app", "e", 1, "app.localhost"), "")
		for i := range 3 {
			table.SetActual(running("app", i, fmt.Sprintf("i%d", i), uint32(61000+i), 1))
		}
		Expect(summary(table.SetRoutes(scaled(1, "app", "e", 2, "app.localhost"), ""))).To(Equal([]string{
			"unregister app.localhost 10.0.0.1:61001", "unregister app.localhost 10.0.0.1:61002"}))
		By("registering nothing the instances report before they stop")
		Expect(table.SetActual(running("app", 2, "i2", 61002, 2))).To(BeEmpty())
		By("registering them again on a scale-up")
		Expect(summary(table.SetRoutes(scaled(3, "app", "e", 3, "app.localhost"), ""))).To(Equal([]string{
			"register app.localhost 10.0.0.1:61001", "register app.localhost 10.0.0.1:61002"}))
		By("withdrawing everything at 0")
		Expect(table.SetRoutes(scaled(0, "app", "e", 4, "app.localhost"), "")).To(HaveLen(3))
	})

	It("lets the newest of the copies that share an endpoint speak for it, so its updated-at never goes back", func() {
		table.SetRoutes(desired("app", "e", 1, "app.localhost"), "")
		table.SetActual(running("app", 0, "i0", 61001, 1))
		suspect := running("app", 0, "i0", 61001, 5)
		suspect.Presence = models.PresenceSuspect
		Expect(table.SetActual(suspect)).To(BeEmpty())
		regs := table.Registrations()
		Expect(regs).To(HaveLen(1))
		Expect(regs[0].Body.EndpointUpdatedAtNs).To(Equal(suspect.Since))
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

	// Issue 19, item 9: the BBS sends a removal it could not read the value
	// of (compacted) with only its key.
	It("unregisters an index whose removal names only its key, and leaves its other copies and indices", func() {
		table.SetRoutes(desired("app", "e", 2, "app.localhost"), "")
		table.SetActual(running("app", 0, "i0", 61001, 1))
		table.SetActual(running("app", 1, "i1", 61002, 1))
		suspect := running("app", 0, "old", 61003, 1)
		suspect.Presence = models.PresenceSuspect
		table.SetActual(suspect)
		keyOnly := &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "app", Index: 0}, Presence: models.PresenceOrdinary}
		Expect(summary(table.RemoveActual(keyOnly))).To(Equal([]string{"unregister app.localhost 10.0.0.1:61001"}))
		Expect(summary(table.Registrations())).To(ConsistOf("register app.localhost 10.0.0.1:61002", "register app.localhost 10.0.0.1:61003"))
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
