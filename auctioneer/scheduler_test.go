package auctioneer_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/auctioneer"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

const dockerImage = "docker:///library/nginx#1.27"

type cellOpt func(*repapi.CellState)

func newCellState(id, zone string, mem, disk, containers int, opts ...cellOpt) *repapi.CellState {
	s := &repapi.CellState{
		CellID:             id,
		Zone:               zone,
		RootFSProviders:    models.RootFSProviders{"docker": {}, "preloaded": {"cflinuxfs4"}},
		TotalResources:     repapi.Resources{MemoryMB: mem, DiskMB: disk, Containers: containers},
		AvailableResources: repapi.Resources{MemoryMB: mem, DiskMB: disk, Containers: containers},
		Healthy:            true,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func using(mem, disk, containers int) cellOpt {
	return func(s *repapi.CellState) {
		s.AvailableResources.MemoryMB -= mem
		s.AvailableResources.DiskMB -= disk
		s.AvailableResources.Containers -= containers
	}
}

func running(guid string, n int) cellOpt {
	return func(s *repapi.CellState) {
		for i := 0; i < n; i++ {
			s.LRPs = append(s.LRPs, repapi.LRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: guid, Index: 100 + i, Domain: "d"}})
		}
	}
}

func startingN(n int) cellOpt { return func(s *repapi.CellState) { s.StartingContainerCount = n } }

func tagged(required, optional []string) cellOpt {
	return func(s *repapi.CellState) { s.PlacementTags, s.OptionalPlacementTags = required, optional }
}

func providers(p models.RootFSProviders) cellOpt {
	return func(s *repapi.CellState) { s.RootFSProviders = p }
}

func lrp(guid string, index, mem int, tags ...string) auctioneer.LRPStart {
	return auctioneer.LRPStart{
		ActualLRPKey:        models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"},
		Resource:            models.Resource{MemoryMB: mem, DiskMB: 10},
		PlacementConstraint: models.PlacementConstraint{RootFS: dockerImage, PlacementTags: tags},
	}
}

func task(guid string, mem int) auctioneer.TaskStart {
	return auctioneer.TaskStart{
		TaskGuid: guid, Domain: "d",
		Resource:            models.Resource{MemoryMB: mem, DiskMB: 10},
		PlacementConstraint: models.PlacementConstraint{RootFS: dockerImage},
	}
}

// cellOf returns the cell each LRP (guid/index) or task guid was placed on.
func placements(r auctioneer.Result) map[string]string {
	out := map[string]string{}
	for id, w := range r.Work {
		for _, l := range w.LRPs {
			out[l.ProcessGuid+"/"+itoa(l.Index)] = id
		}
		for _, t := range w.Tasks {
			out[t.TaskGuid] = id
		}
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// order returns the items a cell received, in the order they were placed.
func order(w *repapi.Work) []string {
	var out []string
	for _, l := range w.LRPs {
		out = append(out, l.ProcessGuid+"/"+itoa(l.Index))
	}
	for _, t := range w.Tasks {
		out = append(out, t.TaskGuid)
	}
	return out
}

var _ = Describe("Scheduler", func() {
	var sched auctioneer.Scheduler

	BeforeEach(func() {
		sched = auctioneer.Scheduler{Weights: auctioneer.DefaultWeights()}
	})

	DescribeTable("choosing a cell for one LRP instance",
		func(cells []*repapi.CellState, item auctioneer.LRPStart, want string) {
			r := sched.Schedule(auctioneer.Batch{LRPs: []auctioneer.LRPStart{item}}, cells)
			Expect(r.FailedLRPs).To(BeEmpty())
			Expect(placements(r)).To(Equal(map[string]string{item.ProcessGuid + "/" + itoa(item.Index): want}))
		},
		Entry("the emptier cell wins on memory",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10, using(600, 0, 0)), newCellState("b", "z1", 1000, 1000, 10, using(200, 0, 0))},
			lrp("app", 0, 100), "b"),
		Entry("the score averages memory, disk and containers",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10, using(300, 0, 0)), newCellState("b", "z1", 1000, 1000, 10, using(0, 200, 5))},
			lrp("app", 0, 100), "a"),
		Entry("starting containers cost 0.25 each",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10, startingN(1)), newCellState("b", "z1", 1000, 1000, 10, using(100, 100, 1))},
			lrp("app", 0, 100), "b"),
		Entry("an instance of the same process outweighs a full cell (locality)",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10, running("app", 1)), newCellState("b", "z1", 1000, 1000, 10, using(800, 800, 8))},
			lrp("app", 1, 100), "b"),
		Entry("instances of other processes do not count for locality",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10, running("other", 1)), newCellState("b", "z1", 1000, 1000, 10, using(800, 800, 8))},
			lrp("app", 1, 100), "a"),
		Entry("the zone with fewer instances wins over a better cell elsewhere",
			[]*repapi.CellState{
				newCellState("a", "z1", 1000, 1000, 10, running("app", 1)),
				newCellState("b", "z1", 1000, 1000, 10),
				newCellState("c", "z2", 1000, 1000, 10, using(900, 900, 9)),
			},
			lrp("app", 1, 50), "c"),
		Entry("a zone without a feasible cell is skipped",
			[]*repapi.CellState{
				newCellState("a", "z1", 1000, 1000, 10, running("app", 1)),
				newCellState("b", "z1", 1000, 1000, 10),
				newCellState("c", "z2", 1000, 1000, 10, using(950, 0, 0)),
			},
			lrp("app", 1, 100), "b"),
		Entry("equal scores go to the smallest cell id",
			[]*repapi.CellState{newCellState("c", "z1", 1000, 1000, 10), newCellState("a", "z2", 1000, 1000, 10), newCellState("b", "z1", 1000, 1000, 10)},
			lrp("app", 0, 100), "a"),
		Entry("unhealthy cells get nothing",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10, func(s *repapi.CellState) { s.Healthy = false }), newCellState("b", "z1", 1000, 1000, 10, using(900, 0, 0))},
			lrp("app", 0, 100), "b"),
		Entry("evacuating cells get nothing",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10, func(s *repapi.CellState) { s.Evacuating = true }), newCellState("b", "z1", 1000, 1000, 10, using(900, 0, 0))},
			lrp("app", 0, 100), "b"),
		Entry("cells that refused the item before are avoided",
			[]*repapi.CellState{newCellState("a", "z1", 1000, 1000, 10), newCellState("b", "z1", 1000, 1000, 10, using(900, 0, 0))},
			func() auctioneer.LRPStart { l := lrp("app", 0, 100); l.Avoid = []string{"a"}; return l }(), "b"),
	)

	DescribeTable("placement tags and rootfs",
		func(cell *repapi.CellState, rootfs string, tags []string, fits bool) {
			item := lrp("app", 0, 100, tags...)
			item.RootFS = rootfs
			r := sched.Schedule(auctioneer.Batch{LRPs: []auctioneer.LRPStart{item}}, []*repapi.CellState{cell})
			if fits {
				Expect(r.FailedLRPs).To(BeEmpty())
				Expect(r.Work).To(HaveKey(cell.CellID))
			} else {
				Expect(r.Work).To(BeEmpty())
				Expect(r.FailedLRPs).To(HaveLen(1))
			}
		},
		Entry("no tags either side", newCellState("a", "z", 1000, 1000, 10), dockerImage, nil, true),
		Entry("required tag given", newCellState("a", "z", 1000, 1000, 10, tagged([]string{"gpu"}, nil)), dockerImage, []string{"gpu"}, true),
		Entry("required tag missing from the request", newCellState("a", "z", 1000, 1000, 10, tagged([]string{"gpu"}, nil)), dockerImage, nil, false),
		Entry("optional tag may be asked for", newCellState("a", "z", 1000, 1000, 10, tagged(nil, []string{"ssd"})), dockerImage, []string{"ssd"}, true),
		Entry("optional tag need not be asked for", newCellState("a", "z", 1000, 1000, 10, tagged(nil, []string{"ssd"})), dockerImage, nil, true),
		Entry("required plus optional", newCellState("a", "z", 1000, 1000, 10, tagged([]string{"gpu"}, []string{"ssd"})), dockerImage, []string{"gpu", "ssd"}, true),
		Entry("a request tag the cell does not offer", newCellState("a", "z", 1000, 1000, 10, tagged([]string{"gpu"}, []string{"ssd"})), dockerImage, []string{"gpu", "fast"}, false),
		Entry("preloaded rootfs the cell has", newCellState("a", "z", 1000, 1000, 10), "preloaded:cflinuxfs4", nil, true),
		Entry("preloaded rootfs the cell lacks", newCellState("a", "z", 1000, 1000, 10), "preloaded:windows", nil, false),
		Entry("a preloaded-only cell refuses images", newCellState("a", "z", 1000, 1000, 10, providers(models.RootFSProviders{"preloaded": {"cflinuxfs4"}})), dockerImage, nil, false),
		Entry("a docker provider takes OCI layouts", newCellState("a", "z", 1000, 1000, 10, providers(models.RootFSProviders{"docker": nil})), "oci:///images/app#v1", nil, true),
		Entry("a docker provider takes docker archives", newCellState("a", "z", 1000, 1000, 10, providers(models.RootFSProviders{"docker": nil})), "docker-archive:///images/app.tar", nil, true),
		Entry("a docker provider does not make preloaded rootfses", newCellState("a", "z", 1000, 1000, 10, providers(models.RootFSProviders{"docker": nil})), "preloaded:cflinuxfs4", nil, false),
	)

	DescribeTable("placement error texts",
		func(cells []*repapi.CellState, item auctioneer.LRPStart, want string) {
			r := sched.Schedule(auctioneer.Batch{LRPs: []auctioneer.LRPStart{item}}, cells)
			Expect(r.Work).To(BeEmpty())
			Expect(r.FailedLRPs).To(HaveLen(1))
			Expect(r.FailedLRPs[0].Reason).To(Equal(want))
		},
		Entry("memory short everywhere",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, using(950, 0, 0)), newCellState("b", "z", 1000, 1000, 10, using(990, 0, 0))},
			lrp("app", 0, 100), "insufficient resources: memory"),
		Entry("memory and disk short everywhere",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, using(950, 995, 0)), newCellState("b", "z", 1000, 1000, 10, using(990, 999, 0))},
			lrp("app", 0, 100), "insufficient resources: memory, disk"),
		Entry("only what is short on every cell is named",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, using(950, 995, 0)), newCellState("b", "z", 1000, 1000, 10, using(990, 0, 10))},
			lrp("app", 0, 100), "insufficient resources: memory"),
		Entry("nothing short everywhere names what some cell lacks",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, using(950, 0, 0)), newCellState("b", "z", 1000, 1000, 10, using(0, 0, 10))},
			lrp("app", 0, 100), "insufficient resources: memory, containers"),
		Entry("no container slot",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, using(0, 0, 10))},
			lrp("app", 0, 100), "insufficient resources: containers"),
		Entry("only unhealthy cells",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, func(s *repapi.CellState) { s.Healthy = false })},
			lrp("app", 0, 100), "insufficient resources: memory, disk, containers"),
		Entry("no cell offers the rootfs",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10)},
			func() auctioneer.LRPStart { l := lrp("app", 0, 100); l.RootFS = "preloaded:windows2019"; return l }(),
			"found no compatible cell for required rootfs"),
		Entry("no cell offers a request tag",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, tagged(nil, []string{"ssd"}))},
			lrp("app", 0, 100, "ssd", "x"), `found no compatible cell with placement tag "x"`),
		Entry("every cell requires a tag the request lacks",
			[]*repapi.CellState{newCellState("a", "z", 1000, 1000, 10, tagged([]string{"gpu"}, nil))},
			lrp("app", 0, 100), `found no compatible cell with placement tag "gpu"`),
		Entry("rootfs is checked before tags and resources",
			[]*repapi.CellState{newCellState("a", "z", 10, 10, 0, tagged([]string{"gpu"}, nil))},
			func() auctioneer.LRPStart { l := lrp("app", 0, 100); l.RootFS = "preloaded:nope"; return l }(),
			"found no compatible cell for required rootfs"),
		Entry("tags are checked before resources",
			[]*repapi.CellState{newCellState("a", "z", 10, 10, 0)},
			lrp("app", 0, 100, "x"), `found no compatible cell with placement tag "x"`),
		Entry("no cells at all", []*repapi.CellState{}, lrp("app", 0, 100), "no cells available"),
	)

	Describe("a batch", func() {
		It("places index 0 first, then tasks, then other indices, larger memory first in each group", func() {
			cell := newCellState("a", "z", 10000, 10000, 100)
			r := sched.Schedule(auctioneer.Batch{
				LRPs:  []auctioneer.LRPStart{lrp("small", 1, 10), lrp("small", 0, 10), lrp("big", 3, 500), lrp("big", 0, 500)},
				Tasks: []auctioneer.TaskStart{task("t-small", 5), task("t-big", 900)},
			}, []*repapi.CellState{cell})
			w := r.Work["a"]
			Expect(order(&repapi.Work{LRPs: w.LRPs})).To(Equal([]string{"big/0", "small/0", "big/3", "small/1"}))
			Expect(order(&repapi.Work{Tasks: w.Tasks})).To(Equal([]string{"t-big", "t-small"}))
		})

		It("gives the scarce room to the earlier group", func() {
			cell := newCellState("a", "z", 1000, 1000, 2)
			r := sched.Schedule(auctioneer.Batch{
				LRPs:  []auctioneer.LRPStart{lrp("app", 1, 10), lrp("app", 0, 10)},
				Tasks: []auctioneer.TaskStart{task("t", 10)},
			}, []*repapi.CellState{cell})
			Expect(placements(r)).To(Equal(map[string]string{"app/0": "a", "t": "a"}))
			Expect(r.FailedLRPs).To(ConsistOf(HaveField("Reason", "insufficient resources: containers")))
			Expect(r.FailedLRPs[0].Index).To(Equal(1))
		})

		It("debits each winner so later items see it", func() {
			cells := []*repapi.CellState{newCellState("a", "z", 1000, 1000, 10), newCellState("b", "z", 1000, 1000, 10)}
			r := sched.Schedule(auctioneer.Batch{
				LRPs: []auctioneer.LRPStart{lrp("w", 0, 600), lrp("x", 0, 600), lrp("y", 0, 300), lrp("z", 0, 300)},
			}, cells)
			Expect(r.FailedLRPs).To(BeEmpty())
			Expect(r.Work["a"].LRPs).To(HaveLen(2))
			Expect(r.Work["b"].LRPs).To(HaveLen(2))
			p := placements(r)
			Expect(p["w/0"]).NotTo(Equal(p["x/0"]))
		})

		It("spreads one app's instances across zones, then cells", func() {
			var cells []*repapi.CellState
			for i, zone := range []string{"z1", "z1", "z1", "z2", "z2", "z3"} {
				cells = append(cells, newCellState("cell-"+itoa(i), zone, 10000, 10000, 100))
			}
			var items []auctioneer.LRPStart
			for i := 0; i < 12; i++ {
				items = append(items, lrp("app", i, 100))
			}
			r := sched.Schedule(auctioneer.Batch{LRPs: items}, cells)
			perZone := map[string]int{}
			for _, c := range cells {
				perZone[c.Zone] += len(r.Work[c.CellID].LRPs)
			}
			Expect(perZone).To(Equal(map[string]int{"z1": 4, "z2": 4, "z3": 4}))
			Expect(r.Work["cell-5"].LRPs).To(HaveLen(4))
			Expect(r.Work["cell-3"].LRPs).To(HaveLen(2))
			Expect(r.Work["cell-4"].LRPs).To(HaveLen(2))
			// Four instances over three cells in z1: two, one, one; the tie on
			// the extra one goes to the smallest cell id.
			Expect(r.Work["cell-0"].LRPs).To(HaveLen(2))
			Expect(r.Work["cell-1"].LRPs).To(HaveLen(1))
			Expect(r.Work["cell-2"].LRPs).To(HaveLen(1))
		})

		It("takes its weights from the scheduler's config", func() {
			cells := []*repapi.CellState{
				newCellState("a", "z", 1000, 1000, 10, running("app", 1)),
				newCellState("b", "z", 1000, 1000, 10, using(300, 300, 3)),
			}
			batch := auctioneer.Batch{LRPs: []auctioneer.LRPStart{lrp("app", 1, 100)}}
			Expect(placements(sched.Schedule(batch, cells))).To(Equal(map[string]string{"app/1": "b"}))
			sched.Weights.Locality = 0
			Expect(placements(sched.Schedule(batch, cells))).To(Equal(map[string]string{"app/1": "a"}))
		})

		It("is deterministic", func() {
			cells := []*repapi.CellState{newCellState("b", "z", 1000, 1000, 10), newCellState("a", "z", 1000, 1000, 10)}
			batch := auctioneer.Batch{LRPs: []auctioneer.LRPStart{lrp("x", 0, 100), lrp("y", 0, 100)}, Tasks: []auctioneer.TaskStart{task("t", 100)}}
			first := sched.Schedule(batch, cells)
			for i := 0; i < 5; i++ {
				Expect(sched.Schedule(batch, cells)).To(Equal(first))
			}
		})

		It("does not modify the cell states it is given", func() {
			cell := newCellState("a", "z", 1000, 1000, 10)
			sched.Schedule(auctioneer.Batch{LRPs: []auctioneer.LRPStart{lrp("x", 0, 100)}}, []*repapi.CellState{cell})
			Expect(cell.AvailableResources).To(Equal(cell.TotalResources))
		})

		It("defers items over the cap on starts in flight", func() {
			sched.MaxInflightStarts = 3
			cells := []*repapi.CellState{newCellState("a", "z", 10000, 10000, 100, startingN(1)), newCellState("b", "z", 10000, 10000, 100)}
			r := sched.Schedule(auctioneer.Batch{
				LRPs:  []auctioneer.LRPStart{lrp("x", 0, 100), lrp("x", 1, 100), lrp("x", 2, 100)},
				Tasks: []auctioneer.TaskStart{task("t", 100)},
			}, cells)
			lrps, tasks := r.Placed()
			Expect(lrps + tasks).To(Equal(2))
			Expect(placements(r)).To(HaveKey("x/0"))
			Expect(placements(r)).To(HaveKey("t"))
			Expect(r.Deferred.LRPs).To(HaveLen(2))
			Expect(r.FailedLRPs).To(BeEmpty())
		})

		It("reports failed tasks with the reason", func() {
			r := sched.Schedule(auctioneer.Batch{Tasks: []auctioneer.TaskStart{task("t", 5000)}}, []*repapi.CellState{newCellState("a", "z", 1000, 1000, 10)})
			Expect(r.FailedTasks).To(ConsistOf(HaveField("Reason", "insufficient resources: memory")))
		})
	})
})
