package auctioneer_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-runtime/diego/auctioneer"
	"github.com/diego-runtime/diego/auctioneer/auctioneerapi"
	"github.com/diego-runtime/diego/auctioneer/simulation"
	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/rep/repapi"
)

const cellTimeout = 300 * time.Millisecond

type harness struct {
	tasks      map[string]*models.TaskStartRequest // what submitTasks sent, for resubmits
	cluster    *simulation.Cluster
	bbs        *simulation.BBS
	auctioneer *auctioneer.Auctioneer
	runner     *auctioneer.Runner
	api        *auctioneerapi.Client
	server     *httptest.Server
}

func newHarness(configs []simulation.CellConfig) *harness {
	h := &harness{cluster: simulation.NewCluster(configs, true), tasks: map[string]*models.TaskStartRequest{}}
	DeferCleanup(h.cluster.Close)
	h.bbs = simulation.NewBBS(h.cluster)
	logger := lagertest.NewTestLogger("auctioneer")
	h.auctioneer = &auctioneer.Auctioneer{
		Logger:      logger,
		Clock:       clock.NewClock(),
		BBS:         h.bbs,
		Scheduler:   auctioneer.Scheduler{Weights: auctioneer.DefaultWeights()},
		HTTP:        &http.Client{},
		CellTimeout: cellTimeout,
	}
	h.runner = &auctioneer.Runner{Logger: logger, Clock: clock.NewClock(), Auctioneer: h.auctioneer, RetryDelay: 100 * time.Millisecond}
	h.bbs.Resubmit = func(guid string) {
		go func() { _ = h.api.RequestTaskAuctions(context.Background(), []*models.TaskStartRequest{h.tasks[guid]}) }()
	}
	h.server = httptest.NewServer(auctioneer.NewHandler(logger, h.runner))
	DeferCleanup(h.server.Close)
	h.api = &auctioneerapi.Client{HTTP: &http.Client{}, Locate: func(context.Context) (string, error) { return h.server.URL, nil }}
	return h
}

func (h *harness) start() {
	p := ifrit.Invoke(h.runner)
	DeferCleanup(func() {
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 5*time.Second).Should(Receive())
	})
}

// submitTasks asks for task auctions as the BBS does, remembering the
// requests so that the stand-in BBS can resubmit rejected ones.
func (h *harness) submitTasks(reqs []*models.TaskStartRequest) error {
	for _, r := range reqs {
		h.tasks[r.TaskGuid] = r
	}
	return h.api.RequestTaskAuctions(context.Background(), reqs)
}

func (h *harness) placed(guid string) int {
	n := 0
	for _, c := range h.cluster.Cells {
		for _, l := range c.LRPs() {
			if l.ProcessGuid == guid {
				n++
			}
		}
	}
	return n
}

func (h *harness) taskCell(guid string) string {
	for _, c := range h.cluster.Cells {
		for _, t := range c.Tasks() {
			if t.TaskGuid == guid {
				return c.ID()
			}
		}
	}
	return ""
}

func startRequest(guid string, mem int, indices ...int) *models.LRPStartRequest {
	return &models.LRPStartRequest{
		ProcessGuid: guid, Domain: "d", Indices: indices,
		Resource:            models.Resource{MemoryMB: mem, DiskMB: 64},
		PlacementConstraint: models.PlacementConstraint{RootFS: dockerImage},
	}
}

func indices(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

var capacity = repapi.Resources{MemoryMB: 16384, DiskMB: 65536, Containers: 250}

var _ = Describe("Runner", func() {
	ctx := context.Background()

	Context("with 100 healthy cells in 3 zones", func() {
		var h *harness

		BeforeEach(func() {
			h = newHarness(simulation.EvenCells(100, 3, capacity))
			h.start()
		})

		It("scales one app from 1 to 300 instances evenly over zones, then cells", func() {
			Expect(h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{startRequest("app", 256, 0)})).To(Succeed())
			Eventually(func() int { return h.placed("app") }, 5*time.Second, 10*time.Millisecond).Should(Equal(1))

			Expect(h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{startRequest("app", 256, indices(1, 300)...)})).To(Succeed())
			Eventually(func() int { return h.placed("app") }, 5*time.Second, 10*time.Millisecond).Should(Equal(300))

			perZone := h.cluster.InstancesPerZone("app")
			Expect(simulation.Spread(perZone)).To(BeNumerically("<=", 1))
			// Within a zone instances per cell differ by at most one. Across
			// zones of 34 and 33 cells holding 100 each they cannot: 2 to 4.
			perCell := h.cluster.InstancesPerCell("app")
			for _, zone := range []string{"z1", "z2", "z3"} {
				inZone := map[string]int{}
				for _, c := range h.cluster.Cells {
					if c.Zone() == zone {
						inZone[c.ID()] = perCell[c.ID()]
					}
				}
				Expect(simulation.Spread(inZone)).To(BeNumerically("<=", 1), zone)
			}
			Expect(simulation.Spread(perCell)).To(BeNumerically("<=", 2))
		})

	})

	Context("with identical requests queued together", func() {
		It("merges them in one batch", func() {
			h := newHarness(simulation.EvenCells(10, 2, capacity))
			reqs := []*models.LRPStartRequest{startRequest("dup", 128, 0, 1), startRequest("dup", 128, 1, 0)}
			task := &models.TaskStartRequest{TaskGuid: "t", Domain: "d", Resource: models.Resource{MemoryMB: 1}, PlacementConstraint: models.PlacementConstraint{RootFS: dockerImage}}
			// Queued before the runner starts, so they all wait in one batch.
			for i := 0; i < 5; i++ {
				h.runner.AddLRPs(auctioneer.LRPStarts(reqs))
				h.runner.AddTasks(auctioneer.TaskStarts([]*models.TaskStartRequest{task, task}))
			}
			h.start()
			Eventually(func() int { return h.placed("dup") }, 5*time.Second).Should(Equal(2))
			Eventually(func() string { return h.taskCell("t") }, 5*time.Second).ShouldNot(BeEmpty())
			Consistently(func() int { return h.placed("dup") }, 300*time.Millisecond).Should(Equal(2))
			tasks := 0
			for _, c := range h.cluster.Cells {
				tasks += len(c.Tasks())
			}
			Expect(tasks).To(Equal(1))
		})
	})

	Context("with cells that misbehave", func() {
		var h *harness

		BeforeEach(func() {
			h = newHarness(simulation.EvenCells(8, 2, capacity))
			h.cluster.Cells[0].SetFault(simulation.Hang)
			h.cluster.Cells[1].SetFault(simulation.Garbage)
			h.cluster.Cells[2].SetFault(simulation.RefuseWork)
		})

		It("leaves out cells that hang or answer garbage, naming the cause, and places the rest", func() {
			start := time.Now()
			r := h.auctioneer.RunAuction(ctx, auctioneer.Batch{LRPs: auctioneer.LRPStarts([]*models.LRPStartRequest{startRequest("app", 128, indices(0, 10)...)})})
			Expect(time.Since(start)).To(BeNumerically("<", 3*cellTimeout))
			Expect(r.CellErrors).To(HaveLen(2))
			Expect(r.CellErrors["cell-0000"]).To(MatchError(ContainSubstring("deadline exceeded")))
			Expect(r.CellErrors["cell-0001"]).To(MatchError(ContainSubstring("decoding answer")))
			Expect(h.cluster.Cells[0].LRPs()).To(BeEmpty())
			Expect(h.cluster.Cells[1].LRPs()).To(BeEmpty())
			// The cell that refuses what it advertised cost its share a retry.
			Expect(r.Refused).To(BeNumerically(">", 0))
			Expect(r.Retry.LRPs).To(HaveLen(r.Refused))
			for _, l := range r.Retry.LRPs {
				Expect(l.Avoid).To(Equal([]string{"cell-0002"}))
			}
			Expect(h.placed("app")).To(Equal(10 - r.Refused))
		})

		It("retries refused work on another cell and ends with every instance placed", func() {
			h.start()
			Expect(h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{startRequest("app", 128, indices(0, 20)...)})).To(Succeed())
			Eventually(func() int { return h.placed("app") }, 5*time.Second, 20*time.Millisecond).Should(Equal(20))
			Expect(h.cluster.Cells[2].LRPs()).To(BeEmpty())
			Expect(h.bbs.LRPFailures()).To(BeEmpty())
		})

		It("retries a refused task on another cell without rejecting it", func() {
			h.start()
			Expect(h.submitTasks([]*models.TaskStartRequest{{
				TaskGuid: "t", Domain: "d", Resource: models.Resource{MemoryMB: 64},
				PlacementConstraint: models.PlacementConstraint{RootFS: dockerImage},
			}})).To(Succeed())
			// The empty cells tie; cell-0002 (the smallest id that answers)
			// wins first and refuses.
			Eventually(func() string { return h.taskCell("t") }, 5*time.Second).Should(Equal("cell-0003"))
			Expect(h.bbs.Rejections("t")).To(BeEmpty())
		})

		It("reports an LRP refused twice with the cause", func() {
			for _, c := range h.cluster.Cells[3:] {
				c.SetFault(simulation.RefuseWork)
			}
			h.start()
			Expect(h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{startRequest("app", 128, 0)})).To(Succeed())
			key := models.ActualLRPKey{ProcessGuid: "app", Index: 0, Domain: "d"}
			Eventually(h.bbs.LRPFailures, 5*time.Second).Should(HaveKeyWithValue(key, MatchRegexp(`^cell cell-000\d refused the work it had room for$`)))
		})
	})

	Context("with work that cannot be placed", func() {
		var h *harness

		BeforeEach(func() {
			h = newHarness(simulation.EvenCells(4, 2, capacity))
			h.start()
		})

		It("keeps the LRP unclaimed with its placement error, and places the rest", func() {
			Expect(h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{
				startRequest("huge", 1<<20, 0),
				startRequest("fine", 128, 0, 1, 2),
			})).To(Succeed())
			key := models.ActualLRPKey{ProcessGuid: "huge", Index: 0, Domain: "d"}
			Eventually(h.bbs.LRPFailures, 5*time.Second).Should(HaveKeyWithValue(key, "insufficient resources: memory"))
			Eventually(func() int { return h.placed("fine") }, 5*time.Second).Should(Equal(3))
		})

		It("does not stall on an LRP that no longer exists", func() {
			gone := models.ActualLRPKey{ProcessGuid: "gone", Index: 0, Domain: "d"}
			h.bbs.Forget(gone)
			r := h.auctioneer.RunAuction(ctx, auctioneer.Batch{LRPs: auctioneer.LRPStarts([]*models.LRPStartRequest{
				startRequest("gone", 1<<20, 0), startRequest("fine", 128, 0),
			})})
			Expect(r.FailedLRPs).To(HaveLen(1))
			Expect(h.bbs.LRPFailures()).NotTo(HaveKey(gone))
			Expect(h.placed("fine")).To(Equal(1))
		})

		It("reports each rejection; the BBS resubmits the task and fails it at the third", func() {
			Expect(h.submitTasks([]*models.TaskStartRequest{{
				TaskGuid: "big-task", Domain: "d",
				Resource:            models.Resource{MemoryMB: 1 << 20},
				PlacementConstraint: models.PlacementConstraint{RootFS: dockerImage},
			}})).To(Succeed())
			Eventually(func() bool { _, failed := h.bbs.FailedTask("big-task"); return failed }, 5*time.Second).Should(BeTrue())
			Expect(h.bbs.Rejections("big-task")).To(Equal([]string{
				"insufficient resources: memory", "insufficient resources: memory", "insufficient resources: memory",
			}))
			Consistently(func() []string { return h.bbs.Rejections("big-task") }, 500*time.Millisecond).Should(HaveLen(3))
		})

		It("rejects a task with the rootfs error text", func() {
			Expect(h.submitTasks([]*models.TaskStartRequest{{
				TaskGuid: "win", Domain: "d", PlacementConstraint: models.PlacementConstraint{RootFS: "preloaded:windows2019"},
			}})).To(Succeed())
			Eventually(func() []string { return h.bbs.Rejections("win") }, 5*time.Second).Should(ContainElement("found no compatible cell for required rootfs"))
		})

		It("places a task that fits", func() {
			Expect(h.submitTasks([]*models.TaskStartRequest{{
				TaskGuid: "small", Domain: "d", Resource: models.Resource{MemoryMB: 64},
				PlacementConstraint: models.PlacementConstraint{RootFS: "preloaded:cflinuxfs4"},
			}})).To(Succeed())
			Eventually(func() string { return h.taskCell("small") }, 5*time.Second).ShouldNot(BeEmpty())
			Expect(h.bbs.Rejections("small")).To(BeEmpty())
		})
	})

	Context("when the BBS cannot list cells", func() {
		It("keeps the batch and places it once the BBS is back", func() {
			h := newHarness(simulation.EvenCells(2, 1, capacity))
			h.bbs.FailCells(errors.New("bbs unavailable"))
			h.start()
			Expect(h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{startRequest("app", 128, 0, 1)})).To(Succeed())
			Consistently(func() int { return h.placed("app") }, 300*time.Millisecond).Should(Equal(0))
			h.bbs.FailCells(nil)
			Eventually(func() int { return h.placed("app") }, 5*time.Second).Should(Equal(2))
		})
	})

	Context("with a cap on starts in flight", func() {
		It("holds back what is over the cap until starts finish", func() {
			h := newHarness(simulation.EvenCells(4, 2, capacity))
			h.auctioneer.Scheduler.MaxInflightStarts = 5
			for _, c := range h.cluster.Cells {
				c.HoldStarts(true)
			}
			h.start()
			Expect(h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{startRequest("app", 128, indices(0, 12)...)})).To(Succeed())
			Eventually(func() int { return h.placed("app") }, 5*time.Second).Should(Equal(5))
			Consistently(func() int { return h.placed("app") }, 400*time.Millisecond).Should(Equal(5))
			for _, c := range h.cluster.Cells {
				c.Started()
			}
			Eventually(func() int { return h.placed("app") }, 5*time.Second).Should(Equal(10))
			for _, c := range h.cluster.Cells {
				c.Started()
			}
			Eventually(func() int { return h.placed("app") }, 5*time.Second).Should(Equal(12))
			Expect(h.bbs.LRPFailures()).To(BeEmpty())
		})
	})

	Describe("the API", func() {
		It("answers 503 while the runner is not active", func() {
			h := newHarness(simulation.EvenCells(1, 1, capacity))
			err := h.api.RequestLRPAuctions(ctx, []*models.LRPStartRequest{startRequest("app", 128, 0)})
			Expect(err).To(MatchError(ContainSubstring("status 503")))
		})

		It("answers 400 to a body that is not JSON", func() {
			h := newHarness(simulation.EvenCells(1, 1, capacity))
			h.start()
			resp, err := http.Post(h.server.URL+auctioneerapi.LRPAuctionsPath, "application/json", strings.NewReader("{nope"))
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		})
	})
})
