package converger_test

import (
	"context"
	"os"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-runtime/diego/converger"
	"github.com/diego-runtime/diego/etcdrunner"
)

var _ = Describe("CellWatch", func() {
	var (
		mu   sync.Mutex
		gone []string
	)
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string{}, gone...)
	}

	BeforeEach(func() {
		mu.Lock()
		gone = nil
		mu.Unlock()
		_, err := etcdClient.Delete(context.Background(), "/diego/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		c, err := newEtcdClient()
		Expect(err).NotTo(HaveOccurred())
		watch := &converger.CellWatch{Logger: lagertest.NewTestLogger("watch"), Clock: clock.NewClock(), Client: c,
			OnGone: func(id string) {
				mu.Lock()
				gone = append(gone, id)
				mu.Unlock()
			}}
		p := ifrit.Invoke(watch)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 5*time.Second).Should(Receive(BeNil()))
			c.Close()
		})
	})

	put := func(id string) {
		_, err := etcdClient.Put(context.Background(), converger.DefaultCellsPrefix+id, `{"cell_id":"`+id+`"}`)
		Expect(err).NotTo(HaveOccurred())
	}
	del := func(id string) {
		_, err := etcdClient.Delete(context.Background(), converger.DefaultCellsPrefix+id)
		Expect(err).NotTo(HaveOccurred())
	}

	It("reports every deleted cell key and ignores new or refreshed ones", func() {
		put("cell-1")
		put("cell-2")
		put("cell-1")
		_, err := etcdClient.Put(context.Background(), "/diego/v1/tasks/t", "{}")
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdClient.Delete(context.Background(), "/diego/v1/tasks/t")
		Expect(err).NotTo(HaveOccurred())
		del("cell-2")
		Eventually(seen, 10*time.Second).Should(Equal([]string{"cell-2"}))
		Consistently(seen, 300*time.Millisecond).Should(Equal([]string{"cell-2"}))
	})

	It("keeps watching across an etcd restart", func() {
		put("cell-1")
		etcdRunner.Stop()
		Expect(etcdRunner.Start()).To(Succeed())
		Expect(etcdrunner.WaitReady(etcdClient, 10*time.Second)).To(Succeed())
		del("cell-1")
		Eventually(seen, 10*time.Second).Should(Equal([]string{"cell-1"}))
	})
})
