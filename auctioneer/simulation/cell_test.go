package simulation_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/auctioneer/simulation"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

var _ = Describe("a simulated cell", func() {
	var (
		cluster *simulation.Cluster
		client  *repapi.Client
		ctx     context.Context
	)

	work := func(mems ...int) repapi.Work {
		w := repapi.Work{}
		for i, m := range mems {
			w.LRPs = append(w.LRPs, repapi.LRPWork{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "app", Index: i}, Resource: models.Resource{MemoryMB: m}})
		}
		return w
	}

	BeforeEach(func() {
		cluster = simulation.NewCluster(simulation.EvenCells(1, 1, repapi.Resources{MemoryMB: 1000, DiskMB: 1000, Containers: 3}), true)
		DeferCleanup(cluster.Close)
		client = repapi.NewClient(&http.Client{}, cluster.Presences()[0].RepURL)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		DeferCleanup(cancel)
	})

	It("serves its state over the rep API", func() {
		state, err := client.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(state.CellID).To(Equal("cell-0000"))
		Expect(state.Zone).To(Equal("z1"))
		Expect(state.AvailableResources).To(Equal(state.TotalResources))
		Expect(state.Healthy).To(BeTrue())
	})

	It("takes what fits, answers the rest, and reports it in /state", func() {
		refused, err := client.Perform(ctx, work(600, 600, 300))
		Expect(err).NotTo(HaveOccurred())
		Expect(refused.LRPs).To(HaveLen(1))
		Expect(refused.LRPs[0].Index).To(Equal(1))
		state, err := client.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(state.AvailableResources).To(Equal(repapi.Resources{MemoryMB: 100, DiskMB: 1000, Containers: 1}))
		Expect(state.LRPs).To(HaveLen(2))
	})

	It("counts held starts until they finish", func() {
		cell := cluster.Cells[0]
		cell.HoldStarts(true)
		_, err := client.Perform(ctx, work(10, 10))
		Expect(err).NotTo(HaveOccurred())
		Expect(cell.State().StartingContainerCount).To(Equal(2))
		cell.Started()
		Expect(cell.State().StartingContainerCount).To(Equal(0))
	})

	It("hangs when told to", func() {
		cluster.Cells[0].SetFault(simulation.Hang)
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := client.State(short)
		Expect(err).To(MatchError(ContainSubstring("deadline exceeded")))
	})

	It("answers garbage when told to", func() {
		cluster.Cells[0].SetFault(simulation.Garbage)
		_, err := client.State(ctx)
		Expect(err).To(MatchError(ContainSubstring("decoding answer")))
	})

	It("refuses work it advertised when told to", func() {
		cluster.Cells[0].SetFault(simulation.RefuseWork)
		refused, err := client.Perform(ctx, work(10))
		Expect(err).NotTo(HaveOccurred())
		Expect(refused.LRPs).To(HaveLen(1))
		Expect(cluster.Cells[0].LRPs()).To(BeEmpty())
	})
})

var _ = Describe("Spread", func() {
	It("is the largest count minus the smallest", func() {
		Expect(simulation.Spread(map[string]int{"a": 3, "b": 5, "c": 4})).To(Equal(2))
		Expect(simulation.Spread(nil)).To(Equal(0))
	})
})
