package bbs_test

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/client"
	"github.com/diego-runtime/diego/etcdrunner"
	"github.com/diego-runtime/diego/models"
)

// follow is a subscriber as docs/bbs.md describes one: it reads events and,
// when the stream fails with ServiceUnavailable, resubscribes after the last id
// it processed. It starts on an open source and stops when ctx ends.
func follow(ctx context.Context, store *bbs.DB, source client.EventSource) <-chan models.Event {
	out := make(chan models.Event, 100)
	go func() {
		defer close(out)
		var last int64
		for ctx.Err() == nil {
			if source == nil {
				var err error
				if source, err = store.SubscribeToEvents(ctx, logger, last); err != nil {
					time.Sleep(100 * time.Millisecond) // etcd still away; try again
					continue
				}
			}
			for {
				ev, err := source.Next()
				if err != nil {
					source.Close()
					source = nil
					if !errors.Is(err, models.ErrServiceUnavailable) {
						return
					}
					break
				}
				last = ev.ID
				out <- ev
			}
		}
	}()
	return out
}

var _ = Describe("etcd outage", func() {
	It("answers ServiceUnavailable within the request timeout and recovers when etcd returns", func() {
		runner, endpoint := etcdrunner.StartForTest(GinkgoT().TempDir())
		DeferCleanup(runner.Stop)
		c, err := etcdrunner.NewClient(etcdrunner.ClientConfig{Endpoints: []string{endpoint}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		store, err := bbs.New(bbs.Options{Client: c, Logger: logger, Clock: clock, RequestTimeout: time.Second})
		Expect(err).NotTo(HaveOccurred())

		Expect(store.DesireLRP(ctx, logger, newDesiredLRP("web", 1))).To(Succeed())
		followCtx, stopFollowing := context.WithCancel(ctx)
		DeferCleanup(stopFollowing)
		source, err := store.SubscribeToEvents(followCtx, logger, 0)
		Expect(err).NotTo(HaveOccurred())
		events := follow(followCtx, store, source)
		Expect(store.ClaimActualLRP(ctx, logger, lrpKey("web", 0), instanceKey("i", "c"))).To(Succeed())
		Eventually(events, 5*time.Second).Should(Receive(WithTransform(func(e models.Event) string { return e.ActualLRPAfter.State }, Equal(models.ActualLRPStateClaimed))))

		runner.Stop()

		calls := map[string]func() error{
			"ping": func() error { return store.Ping(ctx) },
			"list": func() error { _, err := store.DesiredLRPs(ctx, logger, models.DesiredLRPFilter{}); return err },
			"start": func() error {
				return store.StartActualLRP(ctx, logger, lrpKey("web", 0), instanceKey("i", "c"), models.ActualLRPNetInfo{}, true)
			},
			"task": func() error { return store.DesireTask(ctx, logger, "t", "d", newTaskDef()) },
		}
		for name, call := range calls {
			start := time.Now()
			Expect(call()).To(MatchError(models.ErrServiceUnavailable), name)
			Expect(time.Since(start)).To(BeNumerically("<", 3*time.Second), name)
		}

		Expect(runner.Start()).To(Succeed())
		Eventually(func() error { return store.Ping(ctx) }, 15*time.Second, 200*time.Millisecond).Should(Succeed())
		lrp, err := store.DesiredLRPByProcessGuid(ctx, logger, "web")
		Expect(err).NotTo(HaveOccurred())
		Expect(lrp.Instances).To(Equal(1))

		Expect(store.StartActualLRP(ctx, logger, lrpKey("web", 0), instanceKey("i", "c"), models.ActualLRPNetInfo{}, true)).To(Succeed())
		var ev models.Event
		Eventually(events, 15*time.Second).Should(Receive(&ev))
		Expect(ev.Type).To(Equal(models.EventTypeActualLRPChanged))
		Expect(ev.ActualLRPBefore.State).To(Equal(models.ActualLRPStateClaimed))
		Expect(ev.ActualLRPAfter.State).To(Equal(models.ActualLRPStateRunning))
		Consistently(events, 300*time.Millisecond).ShouldNot(Receive())
	})
})
