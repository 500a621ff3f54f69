package bbs_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/models"
)

var _ = Describe("What the operator allows", func() {
	It("refuses more instances than max_instances at desire and at update, storing nothing", func() {
		huge := newDesiredLRP("huge", 2_000_000_000)
		err := db.DesireLRP(ctx, logger, huge)
		Expect(err).To(MatchError(models.ErrInvalidLRP))
		Expect(err).To(MatchError(ContainSubstring("instances: must be at most 10000")))
		_, err = db.DesiredLRPByProcessGuid(ctx, logger, "huge")
		Expect(err).To(MatchError(models.ErrDesiredLRPNotFound))
		Expect(etcdKeys()).To(BeEmpty())

		Expect(db.DesireLRP(ctx, logger, newDesiredLRP("web", 1))).To(Succeed())
		many := 10_001
		Expect(db.UpdateDesiredLRP(ctx, logger, "web", models.DesiredLRPUpdate{Instances: &many})).To(MatchError(models.ErrInvalidLRP))
		Expect(actualsOf("web")).To(HaveLen(1))
	})

	It("honours a configured bound", func() {
		small, err := bbs.New(bbs.Options{Client: etcdClient, Logger: logger, Clock: clock, Keys: keys, MaxInstances: 3})
		Expect(err).NotTo(HaveOccurred())
		Expect(small.DesireLRP(ctx, logger, newDesiredLRP("web", 4))).To(MatchError(ContainSubstring("at most 3")))
		Expect(small.DesireLRP(ctx, logger, newDesiredLRP("web", 3))).To(Succeed())
	})

	DescribeTable("refuses privileged work unless allowed, naming the field",
		func(desire func(store *bbs.DB) error, kind *models.Error) {
			err := desire(db)
			Expect(err).To(MatchError(kind))
			Expect(err).To(MatchError(ContainSubstring("privileged")))
			Expect(etcdKeys()).To(BeEmpty())

			allowing, err := bbs.New(bbs.Options{Client: etcdClient, Logger: logger, Clock: clock, Keys: keys, AllowPrivileged: true})
			Expect(err).NotTo(HaveOccurred())
			Expect(desire(allowing)).To(Succeed())
		},
		Entry("an LRP", func(store *bbs.DB) error {
			lrp := newDesiredLRP("root", 1)
			lrp.Privileged = true
			return store.DesireLRP(ctx, logger, lrp)
		}, models.ErrInvalidLRP),
		Entry("a task", func(store *bbs.DB) error {
			def := newTaskDef()
			def.Privileged = true
			return store.DesireTask(ctx, logger, "root-task", "d", def)
		}, models.ErrInvalidTask),
	)
})
