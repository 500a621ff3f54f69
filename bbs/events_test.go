package bbs_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/models"
)

// collect reads events from source into a channel until it ends.
func collect(source client.EventSource) <-chan models.Event {
	out := make(chan models.Event, 1000)
	go func() {
		defer close(out)
		for {
			ev, err := source.Next()
			if err != nil {
				return
			}
			out <- ev
		}
	}()
	return out
}

// take waits for n events.
func take(events <-chan models.Event, n int) []models.Event {
	var got []models.Event
	for len(got) < n {
		select {
		case ev, ok := <-events:
			Expect(ok).To(BeTrue(), "the stream ended after %d events", len(got))
			got = append(got, ev)
		case <-time.After(5 * time.Second):
			Fail("timed out waiting for events")
		}
	}
	return got
}

func types(evs []models.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

var _ = Describe("Events", func() {
	subscribe := func(afterID int64) (client.EventSource, <-chan models.Event) {
		source, err := db.SubscribeToEvents(ctx, logger, afterID)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(source.Close)
		return source, collect(source)
	}

	It("streams one event per change, in commit order, with before and after bodies", func() {
		_, events := subscribe(0)
		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 2))).To(Succeed())
		Expect(db.ClaimActualLRP(ctx, logger, lrpKey("web", 0), instanceKey("i-1", "cell-1"))).To(Succeed())
		routes := models.Routes{models.CFRouterKey: json.RawMessage(`[{"hostnames":["b.example.com"],"port":8080}]`)}
		Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Routes: &routes})).To(Succeed())
		Expect(db.DesireTask(ctx, logger, "t1", "d", newTaskDef())).To(Succeed())
		Expect(db.FailTask(ctx, logger, "t1", "because")).To(Succeed())
		Expect(db.DeleteTask(ctx, logger, "t1")).To(Succeed())
		Expect(db.RemoveDesiredLRP(ctx, logger, "web")).To(Succeed())

		got := take(events, 11)
		Expect(types(got)).To(Equal([]string{
			models.EventTypeDesiredLRPCreated, models.EventTypeActualLRPCreated, models.EventTypeActualLRPCreated,
			models.EventTypeActualLRPChanged, models.EventTypeDesiredLRPChanged,
			models.EventTypeTaskCreated, models.EventTypeTaskChanged, models.EventTypeTaskRemoved,
			models.EventTypeDesiredLRPRemoved, models.EventTypeActualLRPRemoved, models.EventTypeActualLRPRemoved,
		}))
		for i := 1; i < len(got); i++ {
			Expect(got[i].ID).To(BeNumerically(">", got[i-1].ID))
		}
		Expect(got[0].DesiredLRP.ProcessGuid).To(Equal("web"))
		Expect(got[1].ID/1000).To(Equal(got[2].ID/1000), "one transaction created both indices")
		Expect(got[3].ActualLRPBefore.State).To(Equal(models.ActualLRPStateUnclaimed))
		Expect(got[3].ActualLRPAfter.State).To(Equal(models.ActualLRPStateClaimed))
		Expect(got[3].ActualLRPAfter.InstanceGuid).To(Equal("i-1"))
		Expect(string(got[4].DesiredLRPBefore.Routes[models.CFRouterKey])).To(ContainSubstring("a.example.com"))
		Expect(string(got[4].DesiredLRPAfter.Routes[models.CFRouterKey])).To(ContainSubstring("b.example.com"))
		Expect(got[6].TaskBefore.State).To(Equal(models.TaskStatePending))
		Expect(got[6].TaskAfter.FailureReason).To(Equal("because"))
		Expect(got[7].Task.TaskGuid).To(Equal("t1"))
		Expect(got[8].DesiredLRP.ProcessGuid).To(Equal("web"))
		Expect(got[9].ActualLRP.Index).To(Equal(1), "the unclaimed index goes with the desired LRP")
		Expect(got[10].ActualLRP.Index).To(Equal(0), "the claimed index on a vanished cell goes after")
		Consistently(events, 300*time.Millisecond).ShouldNot(Receive())
	})

	It("resumes after an id, even in the middle of one transaction's events", func() {
		first, events := subscribe(0)
		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 3))).To(Succeed())
		seen := take(events, 4)
		Expect(first.Close()).To(Succeed())
		Eventually(events).Should(BeClosed())

		// Changes while the subscriber was away.
		Expect(db.ClaimActualLRP(ctx, logger, lrpKey("web", 2), instanceKey("i-2", "cell-1"))).To(Succeed())
		Expect(db.DesireTask(ctx, logger, "t1", "d", newTaskDef())).To(Succeed())

		_, resumed := subscribe(seen[1].ID)
		got := take(resumed, 4)
		Expect(got[0].ID).To(Equal(seen[2].ID))
		Expect(got[1].ID).To(Equal(seen[3].ID))
		Expect(types(got[2:])).To(Equal([]string{models.EventTypeActualLRPChanged, models.EventTypeTaskCreated}))
		Expect(got[2].ActualLRPAfter.Index).To(Equal(2))
		Consistently(resumed, 300*time.Millisecond).ShouldNot(Receive())
	})

	It("fails a resume into compacted history instead of skipping events", func() {
		_, events := subscribe(0)
		Expect(db.DesireTask(ctx, logger, "t1", "d", newTaskDef())).To(Succeed())
		old := take(events, 1)[0]
		Expect(db.FailTask(ctx, logger, "t1", "x")).To(Succeed())
		resp, err := etcdClient.Get(ctx, "/diego/")
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdClient.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
		Expect(err).NotTo(HaveOccurred())

		source, err := db.SubscribeToEvents(ctx, logger, old.ID)
		Expect(err).NotTo(HaveOccurred())
		defer source.Close()
		_, err = source.Next()
		Expect(err).To(MatchError(models.ErrInvalidRequest))
	})
})

// Issue 19, item 9: etcd gives no previous value for a delete whose revision
// was compacted; the removal must still reach subscribers (the route emitter
// unregisters the index's routes), with what the key says.
var _ = DescribeTable("A delete event without its previous value is emitted from its key",
	func(key string, want models.Event) {
		ev, ok, err := db.ConvertEvent(&clientv3.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(key), ModRevision: 9}})
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(ev).To(Equal(want))
	},
	Entry("an ordinary actual LRP", "/diego/v1/actual/web/3/ordinary", models.Event{Type: models.EventTypeActualLRPRemoved,
		ActualLRP: &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "web", Index: 3}, Presence: models.PresenceOrdinary}}),
	Entry("a suspect copy", "/diego/v1/actual/web/0/suspect", models.Event{Type: models.EventTypeActualLRPRemoved,
		ActualLRP: &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "web", Index: 0}, Presence: models.PresenceSuspect}}),
	Entry("an evacuating copy", "/diego/v1/actual/web/1/evacuating", models.Event{Type: models.EventTypeActualLRPRemoved,
		ActualLRP: &models.ActualLRP{ActualLRPKey: models.ActualLRPKey{ProcessGuid: "web", Index: 1}, Presence: models.PresenceEvacuating, Evacuating: true}}),
	Entry("a desired LRP", "/diego/v1/desired/run/web", models.Event{Type: models.EventTypeDesiredLRPRemoved,
		DesiredLRP: &models.DesiredLRP{ProcessGuid: "web"}}),
	Entry("a task", "/diego/v1/tasks/t1", models.Event{Type: models.EventTypeTaskRemoved, Task: &models.Task{TaskGuid: "t1"}}),
)
