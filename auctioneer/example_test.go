package auctioneer_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/auctioneer"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

// The worked example of docs/scheduling.md; keep the two in step.
var _ = Describe("the worked example in docs/scheduling.md", func() {
	It("places and fails as the document says", func() {
		cells := []*repapi.CellState{
			newCellState("cell-a", "z1", 4096, 16384, 100, using(1024, 4096, 10), running("web", 1)),
			newCellState("cell-b", "z1", 4096, 16384, 100, using(512, 1024, 5), startingN(2)),
			newCellState("cell-c", "z2", 4096, 16384, 100, using(2048, 8192, 20)),
		}
		item := func(guid string, index, mem, disk int) auctioneer.LRPStart {
			return auctioneer.LRPStart{
				ActualLRPKey:        models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "apps"},
				Resource:            models.Resource{MemoryMB: mem, DiskMB: disk},
				PlacementConstraint: models.PlacementConstraint{RootFS: "docker:///library/nginx#1.27"},
			}
		}
		batch := auctioneer.Batch{
			LRPs: []auctioneer.LRPStart{item("web", 1, 512, 1024), item("worker", 0, 256, 512), item("big", 0, 8192, 1024)},
			Tasks: []auctioneer.TaskStart{
				{TaskGuid: "migrate", Domain: "apps", Resource: models.Resource{MemoryMB: 1024, DiskMB: 1024},
					PlacementConstraint: models.PlacementConstraint{RootFS: "docker:///library/postgres#17"}},
				{TaskGuid: "train", Domain: "apps", Resource: models.Resource{MemoryMB: 128},
					PlacementConstraint: models.PlacementConstraint{RootFS: "docker:///ml/train#1", PlacementTags: []string{"gpu"}}},
			},
		}
		r := auctioneer.Scheduler{Weights: auctioneer.DefaultWeights()}.Schedule(batch, cells)
		Expect(placements(r)).To(Equal(map[string]string{"worker/0": "cell-a", "migrate": "cell-c", "web/1": "cell-c"}))
		Expect(r.FailedLRPs).To(ConsistOf(HaveField("Reason", "insufficient resources: memory")))
		Expect(r.FailedTasks).To(ConsistOf(HaveField("Reason", `found no compatible cell with placement tag "gpu"`)))
	})
})
