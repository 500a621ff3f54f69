package models_test

import (
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("ActualLRP", func() {
	const (
		unclaimed = models.ActualLRPStateUnclaimed
		claimed   = models.ActualLRPStateClaimed
		running   = models.ActualLRPStateRunning
		crashed   = models.ActualLRPStateCrashed
	)
	holder := models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellID: "cell-1"}
	keys := map[string]models.ActualLRPInstanceKey{
		"same key":           holder,
		"no key":             {},
		"another instance":   {InstanceGuid: "ig-2", CellID: "cell-2"},
		"same guid, cell 2":  {InstanceGuid: "ig-1", CellID: "cell-2"},
		"a key":              {InstanceGuid: "ig-2", CellID: "cell-2"},
		"only an instance":   {InstanceGuid: "ig-2"},
		"guid of another, 1": {InstanceGuid: "ig-2", CellID: "cell-1"},
	}
	record := func(state string) *models.ActualLRP {
		a := &models.ActualLRP{
			ActualLRPKey: models.ActualLRPKey{ProcessGuid: "p", Index: 0, Domain: "d"},
			State:        state,
		}
		if state == claimed || state == running {
			a.ActualLRPInstanceKey = holder
		}
		return a
	}

	var (
		ok  error
		ist = models.ErrInvalidStateTransition
		cbc = models.ErrActualLRPCannotBeClaimed
	)

	DescribeTable("CheckTransition: one row per (from, to, key)",
		func(from, to, key string, want error) {
			a := record(from)
			err := a.CheckTransition(to, keys[key])
			if want == nil {
				Expect(err).NotTo(HaveOccurred())
				Expect(a.AllowsTransitionTo(to, keys[key])).To(BeTrue())
				return
			}
			Expect(errors.Is(err, want)).To(BeTrue(), "want %v, got %v", want, err)
			Expect(a.AllowsTransitionTo(to, keys[key])).To(BeFalse())
		},
		EntryDescription("%s -> %s, %s: %v"),
		// UNCLAIMED holds no instance: anyone may re-auction it, a named
		// instance may claim it or report it running, nothing crashes it.
		Entry(nil, unclaimed, unclaimed, "no key", ok),
		Entry(nil, unclaimed, unclaimed, "a key", ok),
		Entry(nil, unclaimed, claimed, "a key", ok),
		Entry(nil, unclaimed, claimed, "no key", ist),
		Entry(nil, unclaimed, claimed, "only an instance", ist),
		Entry(nil, unclaimed, running, "a key", ok),
		Entry(nil, unclaimed, running, "no key", ist),
		Entry(nil, unclaimed, running, "only an instance", ist),
		Entry(nil, unclaimed, crashed, "no key", ist),
		Entry(nil, unclaimed, crashed, "a key", ist),

		// CLAIMED moves only for its holder.
		Entry(nil, claimed, unclaimed, "same key", ok),
		Entry(nil, claimed, unclaimed, "another instance", ist),
		Entry(nil, claimed, unclaimed, "same guid, cell 2", ist),
		Entry(nil, claimed, unclaimed, "no key", ist),
		Entry(nil, claimed, claimed, "same key", ok),
		Entry(nil, claimed, claimed, "another instance", cbc),
		Entry(nil, claimed, claimed, "guid of another, 1", cbc),
		Entry(nil, claimed, claimed, "no key", cbc),
		Entry(nil, claimed, running, "same key", ok),
		Entry(nil, claimed, running, "another instance", cbc),
		Entry(nil, claimed, running, "same guid, cell 2", cbc),
		Entry(nil, claimed, running, "no key", cbc),
		Entry(nil, claimed, crashed, "same key", ok),
		Entry(nil, claimed, crashed, "another instance", ist),
		Entry(nil, claimed, crashed, "same guid, cell 2", ist),
		Entry(nil, claimed, crashed, "no key", ist),

		// RUNNING moves only for its holder, and never back to CLAIMED.
		Entry(nil, running, unclaimed, "same key", ok),
		Entry(nil, running, unclaimed, "another instance", ist),
		Entry(nil, running, unclaimed, "no key", ist),
		Entry(nil, running, claimed, "same key", ist),
		Entry(nil, running, claimed, "another instance", cbc),
		Entry(nil, running, claimed, "no key", cbc),
		Entry(nil, running, running, "same key", ok),
		Entry(nil, running, running, "another instance", cbc),
		Entry(nil, running, running, "guid of another, 1", cbc),
		Entry(nil, running, running, "no key", cbc),
		Entry(nil, running, crashed, "same key", ok),
		Entry(nil, running, crashed, "another instance", ist),
		Entry(nil, running, crashed, "same guid, cell 2", ist),
		Entry(nil, running, crashed, "no key", ist),

		// CRASHED waits out its backoff; only a restart (to UNCLAIMED) moves it.
		Entry(nil, crashed, unclaimed, "no key", ok),
		Entry(nil, crashed, unclaimed, "a key", ok),
		Entry(nil, crashed, claimed, "a key", ist),
		Entry(nil, crashed, claimed, "no key", ist),
		Entry(nil, crashed, running, "a key", ist),
		Entry(nil, crashed, running, "no key", ist),
		Entry(nil, crashed, crashed, "no key", ist),
		Entry(nil, crashed, crashed, "a key", ist),

		// Unknown states never move.
		Entry(nil, unclaimed, "STOPPED", "a key", ist),
		Entry(nil, "STOPPED", unclaimed, "no key", ist),
		Entry(nil, running, "", "same key", ist),
	)

	It("says who holds the record when refusing a claim", func() {
		err := record(running).CheckTransition(claimed, keys["another instance"])
		Expect(err.Error()).To(ContainSubstring(`"ig-1"`))
		Expect(err.Error()).To(ContainSubstring(`"cell-1"`))
		Expect(models.AsError(err).Status).To(Equal(409))
	})

	DescribeTable("IsRoutable",
		func(state string, routable, want bool) {
			a := record(state)
			a.Routable = routable
			Expect(a.IsRoutable()).To(Equal(want))
		},
		Entry("RUNNING and routable", running, true, true),
		Entry("RUNNING, not ready", running, false, false),
		Entry("CLAIMED with a stale flag", claimed, true, false),
		Entry("UNCLAIMED", unclaimed, true, false),
		Entry("CRASHED", crashed, true, false),
	)

	Describe("ResolveActualLRPs", func() {
		lrp := func(state, presence string) *models.ActualLRP {
			a := record(state)
			a.Presence = presence
			return a
		}

		DescribeTable("picks the record to show",
			func(records []*models.ActualLRP, want int) {
				Expect(models.ResolveActualLRPs(records)).To(BeIdenticalTo(records[want]))
			},
			Entry("a single record", []*models.ActualLRP{lrp(unclaimed, models.PresenceOrdinary)}, 0),
			Entry("RUNNING evacuating over UNCLAIMED ordinary",
				[]*models.ActualLRP{lrp(unclaimed, models.PresenceOrdinary), lrp(running, models.PresenceEvacuating)}, 1),
			Entry("RUNNING suspect over CLAIMED ordinary",
				[]*models.ActualLRP{lrp(claimed, models.PresenceOrdinary), lrp(running, models.PresenceSuspect)}, 1),
			Entry("ORDINARY over EVACUATING when both RUNNING",
				[]*models.ActualLRP{lrp(running, models.PresenceEvacuating), lrp(running, models.PresenceOrdinary)}, 1),
			Entry("ORDINARY over SUSPECT when both RUNNING",
				[]*models.ActualLRP{lrp(running, models.PresenceSuspect), lrp(running, "")}, 1),
			Entry("EVACUATING over SUSPECT when both RUNNING",
				[]*models.ActualLRP{lrp(running, models.PresenceSuspect), lrp(running, models.PresenceEvacuating)}, 1),
			Entry("ORDINARY over SUSPECT when neither runs",
				[]*models.ActualLRP{lrp(claimed, models.PresenceSuspect), lrp(unclaimed, models.PresenceOrdinary)}, 1),
			Entry("CLAIMED over UNCLAIMED over CRASHED",
				[]*models.ActualLRP{lrp(crashed, ""), lrp(unclaimed, ""), lrp(claimed, "")}, 2),
			Entry("the first of equals",
				[]*models.ActualLRP{lrp(running, ""), lrp(running, "")}, 0),
			Entry("skipping nils",
				[]*models.ActualLRP{nil, lrp(crashed, "")}, 1),
		)

		It("is nil for no records", func() {
			Expect(models.ResolveActualLRPs(nil)).To(BeNil())
		})

		It("resolves each index and sorts by guid and index", func() {
			a0 := record(running)
			a0.ProcessGuid, a0.Index = "b", 0
			a0evac := record(unclaimed)
			a0evac.ProcessGuid, a0evac.Index = "b", 0
			a1 := record(unclaimed)
			a1.ProcessGuid, a1.Index = "b", 1
			c0 := record(crashed)
			c0.ProcessGuid, c0.Index = "a", 0
			out := models.ResolveActualLRPGroups([]*models.ActualLRP{a1, a0evac, a0, c0, nil})
			Expect(out).To(HaveExactElements(BeIdenticalTo(c0), BeIdenticalTo(a0), BeIdenticalTo(a1)))
		})
	})

	Describe("on the wire", func() {
		It("is one flat object with exactly the fields of DESIGN 9", func() {
			a := &models.ActualLRP{
				ActualLRPKey:         models.ActualLRPKey{ProcessGuid: "p", Index: 3, Domain: "d"},
				ActualLRPInstanceKey: models.ActualLRPInstanceKey{InstanceGuid: "ig", CellID: "c"},
				ActualLRPNetInfo: models.ActualLRPNetInfo{
					Address: "10.0.0.1", InstanceAddress: "10.255.0.2",
					Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61000}},
				},
				State: running, CrashCount: 1, CrashReason: "Exited with status 1", PlacementError: "none",
				Since: 12345, Presence: models.PresenceOrdinary, Routable: true,
				ModificationTag: models.ModificationTag{Epoch: "e", Index: 4},
			}
			b, err := json.Marshal(a)
			Expect(err).NotTo(HaveOccurred())
			var m map[string]any
			Expect(json.Unmarshal(b, &m)).To(Succeed())
			Expect(m).To(HaveLen(17))
			Expect(m).To(SatisfyAll(
				HaveKeyWithValue("process_guid", "p"), HaveKeyWithValue("index", 3.0), HaveKeyWithValue("domain", "d"),
				HaveKeyWithValue("instance_guid", "ig"), HaveKeyWithValue("cell_id", "c"),
				HaveKeyWithValue("address", "10.0.0.1"), HaveKeyWithValue("instance_address", "10.255.0.2"),
				HaveKeyWithValue("ports", []any{map[string]any{"container_port": 8080.0, "host_port": 61000.0}}),
				HaveKeyWithValue("state", "RUNNING"), HaveKeyWithValue("crash_count", 1.0),
				HaveKeyWithValue("crash_reason", "Exited with status 1"), HaveKeyWithValue("placement_error", "none"),
				HaveKeyWithValue("since", 12345.0), HaveKeyWithValue("presence", "ORDINARY"),
				HaveKeyWithValue("evacuating", false), HaveKeyWithValue("routable", true),
				HaveKeyWithValue("modification_tag", map[string]any{"epoch": "e", "index": 4.0}),
			))

			var back models.ActualLRP
			Expect(json.Unmarshal(b, &back)).To(Succeed())
			Expect(&back).To(Equal(a))
		})

		It("writes no ports as [] rather than null, by value and by pointer", func() {
			a := models.ActualLRP{State: unclaimed}
			for _, v := range []any{a, &a, []models.ActualLRP{a}} {
				b, err := json.Marshal(v)
				Expect(err).NotTo(HaveOccurred())
				Expect(string(b)).To(ContainSubstring(`"ports":[]`))
			}
		})
	})
})
