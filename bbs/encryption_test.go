package bbs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/bbs"
	"github.com/diego-runtime/diego/bbs/encryption"
	"github.com/diego-runtime/diego/bbs/maintain"
	"github.com/diego-runtime/diego/models"
)

// secretLRP carries a value in every part a record must not show in etcd:
// env, credentials and actions.
func secretLRP(guid string) *models.DesiredLRP {
	lrp := newDesiredLRP(guid, 2)
	lrp.Env = []models.EnvVar{{Name: "DATABASE_URL", Value: "postgres://plaintext-canary-env"}}
	lrp.ImageUsername, lrp.ImagePassword = "robot", "plaintext-canary-password"
	lrp.Action = models.Run(models.RunAction{Path: "/plaintext-canary-action"})
	return lrp
}

// etcdHolds reports every stored value under /diego/ that contains needle.
func etcdHolds(needle string) []string {
	resp, err := etcdClient.Get(ctx, "/diego/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	var found []string
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Value), needle) {
			found = append(found, string(kv.Key))
		}
	}
	return found
}

// labelsInEtcd counts the stored records by the key label that sealed them
// ("" for plain JSON).
func labelsInEtcd() map[string]int {
	resp, err := etcdClient.Get(ctx, "/diego/v1/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	out := map[string]int{}
	for _, kv := range resp.Kvs {
		out[encryption.Label(kv.Value)]++
	}
	return out
}

func newDB(k *encryption.Keyring) *bbs.DB {
	other, err := bbs.New(bbs.Options{Client: etcdClient, Logger: logger, Clock: clock, Keys: k})
	Expect(err).NotTo(HaveOccurred())
	return other
}

var _ = Describe("Records at rest", func() {
	storeEverything := func(store *bbs.DB) {
		Expect(store.DesireLRP(ctx, logger, secretLRP("secret"))).To(Succeed())
		def := newTaskDef()
		def.Env = []models.EnvVar{{Name: "TOKEN", Value: "plaintext-canary-task"}}
		Expect(store.DesireTask(ctx, logger, "secret-task", "d", def)).To(Succeed())
		_, err := store.RegisterCell(ctx, logger, models.CellPresence{CellID: "plaintext-canary-cell", RepAddress: "127.0.0.1:1", Zone: "z1"}, 30)
		Expect(err).NotTo(HaveOccurred())
		Expect(store.UpsertDomain(ctx, logger, "plaintext-canary-domain", 0)).To(Succeed())
	}

	It("keeps no plaintext env, credentials, actions, cells or domains in etcd, and reads them back whole", func() {
		storeEverything(db)
		Expect(etcdHolds("plaintext-canary")).To(BeEmpty())
		Expect(labelsInEtcd()).To(Equal(map[string]int{"suite": len(etcdKeys())}))

		got, err := db.DesiredLRPByProcessGuid(ctx, logger, "secret")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Env[0].Value).To(Equal("postgres://plaintext-canary-env"))
		Expect(got.ImagePassword).To(Equal("plaintext-canary-password"))
		Expect(got.Action.Run.Path).To(Equal("/plaintext-canary-action"))
		cells, err := db.Cells(ctx, logger)
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(1))
	})

	It("refuses a sealed record moved to another key, and one altered in place", func() {
		Expect(db.DesireLRP(ctx, logger, secretLRP("a"))).To(Succeed())
		Expect(db.DesireLRP(ctx, logger, secretLRP("b"))).To(Succeed())
		resp, err := etcdClient.Get(ctx, "/diego/v1/desired/run/a")
		Expect(err).NotTo(HaveOccurred())
		sealed := resp.Kvs[0].Value

		_, err = etcdClient.Put(ctx, "/diego/v1/desired/run/b", string(sealed))
		Expect(err).NotTo(HaveOccurred())
		_, err = db.DesiredLRPByProcessGuid(ctx, logger, "b")
		Expect(err).To(MatchError(ContainSubstring("message authentication failed")))

		flipped := append([]byte{}, sealed...)
		flipped[len(flipped)-1] ^= 1
		_, err = etcdClient.Put(ctx, "/diego/v1/desired/run/a", string(flipped))
		Expect(err).NotTo(HaveOccurred())
		_, err = db.DesiredLRPByProcessGuid(ctx, logger, "a")
		Expect(err).To(HaveOccurred())
	})

	It("cannot read records without the key that sealed them", func() {
		Expect(db.DesireLRP(ctx, logger, secretLRP("web"))).To(Succeed())
		other, err := encryption.New(map[string]string{"other": "some other passphrase"}, "other")
		Expect(err).NotTo(HaveOccurred())
		_, err = newDB(other).DesiredLRPByProcessGuid(ctx, logger, "web")
		Expect(err).To(MatchError(encryption.ErrUnknownLabel))
		_, err = newDB(nil).DesiredLRPByProcessGuid(ctx, logger, "web")
		Expect(err).To(MatchError(ContainSubstring("is encrypted")))
	})

	Describe("rotating keys", func() {
		It("rewrites every record to the active key without changing them or making events, after which the old key is not needed", func() {
			plain := newDB(nil)
			storeEverything(plain) // a store from before encryption was turned on
			Expect(etcdHolds("plaintext-canary")).NotTo(BeEmpty())

			old, err := encryption.New(map[string]string{"k1": "the first passphrase"}, "k1")
			Expect(err).NotTo(HaveOccurred())
			stats, err := newDB(old).RewriteRecords(ctx, logger)
			Expect(err).NotTo(HaveOccurred())
			total := len(etcdKeys())
			Expect(stats).To(Equal(bbs.RewriteStats{Rewritten: total}))
			Expect(etcdHolds("plaintext-canary")).To(BeEmpty())

			both, err := encryption.New(map[string]string{"k1": "the first passphrase", "k2": "the second passphrase"}, "k2")
			Expect(err).NotTo(HaveOccurred())
			rotated := newDB(both)
			events, err := rotated.SubscribeToEvents(ctx, logger, 0)
			Expect(err).NotTo(HaveOccurred())
			defer events.Close()
			stats, err = rotated.RewriteRecords(ctx, logger)
			Expect(err).NotTo(HaveOccurred())
			Expect(stats).To(Equal(bbs.RewriteStats{Rewritten: total}))
			Expect(labelsInEtcd()).To(Equal(map[string]int{"k2": total}))

			// The cell keeps its lease: it still expires with its heartbeat.
			cellResp, err := etcdClient.Get(ctx, "/diego/v1/cells/plaintext-canary-cell")
			Expect(err).NotTo(HaveOccurred())
			Expect(cellResp.Kvs[0].Lease).NotTo(BeZero())

			// A rewrite is no change: the next event is a real one.
			three := 3
			Expect(rotated.UpdateDesiredLRP(ctx, logger, "secret", models.DesiredLRPUpdate{Instances: &three})).To(Succeed())
			next := make(chan models.Event, 1)
			go func() {
				defer GinkgoRecover()
				e, err := events.Next()
				Expect(err).NotTo(HaveOccurred())
				next <- e
			}()
			var e models.Event
			Eventually(next, 5*time.Second).Should(Receive(&e))
			Expect(e.Type).To(Equal("desired_lrp_changed"), fmt.Sprintf("%+v", e))

			onlyNew, err := encryption.New(map[string]string{"k2": "the second passphrase"}, "k2")
			Expect(err).NotTo(HaveOccurred())
			got, err := newDB(onlyNew).DesiredLRPByProcessGuid(ctx, logger, "secret")
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Instances).To(Equal(3))
			Expect(got.Env[0].Value).To(Equal("postgres://plaintext-canary-env"))

			stats, err = rotated.RewriteRecords(ctx, logger)
			Expect(err).NotTo(HaveOccurred())
			Expect(stats.Rewritten).To(BeZero())
		})

		It("then leaves the old values in neither etcd's history nor its database file, as the BBS's rewriter purges them", func() {
			storeEverything(newDB(nil))
			resp, err := etcdClient.Get(ctx, "/diego/v1/", clientv3.WithPrefix())
			Expect(err).NotTo(HaveOccurred())
			written := resp.Header.Revision
			dbFile := filepath.Join(etcdDir, "member", "snap", "db")
			// Values only: a cell's ID and a domain's name are in their keys, which are not sealed.
			secrets := []string{"plaintext-canary-env", "plaintext-canary-password", "plaintext-canary-action", "plaintext-canary-task"}
			// etcd commits its backend in batches (every 100 ms).
			Eventually(func() []string { return fileHolds(dbFile, secrets...) }).Should(Equal(secrets), "the check must be able to fail")

			maintainer, err := maintain.New(maintain.Options{Client: etcdClient})
			Expect(err).NotTo(HaveOccurred())
			k1, err := encryption.New(map[string]string{"k1": "the first passphrase"}, "k1")
			Expect(err).NotTo(HaveOccurred())
			process := ifrit.Invoke(bbs.NewRecordRewriter(newDB(k1), maintainer, logger, clock))
			DeferCleanup(func() {
				process.Signal(os.Interrupt)
				Eventually(process.Wait()).Should(Receive(BeNil()))
			})

			Eventually(func() error {
				_, err := etcdClient.Get(ctx, "/diego/v1/", clientv3.WithPrefix(), clientv3.WithRev(written))
				return err
			}).Should(MatchError(rpctypes.ErrCompacted))
			Expect(etcdHolds("plaintext-canary")).To(BeEmpty())
			Eventually(func() []string { return fileHolds(dbFile, secrets...) }).Should(BeEmpty())
			got, err := newDB(k1).DesiredLRPByProcessGuid(ctx, logger, "secret")
			Expect(err).NotTo(HaveOccurred())
			Expect(got.ImagePassword).To(Equal("plaintext-canary-password"))
		})
	})
})

// fileHolds returns the needles the file at path contains.
func fileHolds(path string, needles ...string) []string {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var found []string
	for _, n := range needles {
		if bytes.Contains(data, []byte(n)) {
			found = append(found, n)
		}
	}
	return found
}

func etcdKeys() []string {
	resp, err := etcdClient.Get(ctx, "/diego/v1/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}
