package rep_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

// gardenProxy forwards a unix socket to the suite's garden once opened; until
// then nothing listens there, as when garden is not yet answering.
type gardenProxy struct {
	path string
	ln   net.Listener
}

func (p *gardenProxy) open() {
	GinkgoHelper()
	ln, err := net.Listen("unix", p.path)
	Expect(err).NotTo(HaveOccurred())
	p.ln = ln
	DeferCleanup(ln.Close)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				up, err := net.Dial("unix", tg.Socket)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, conn) }()
				_, _ = io.Copy(conn, up)
			}()
		}
	}()
}

// Issue 19, item 7: a garden error at rep start must not orphan containers.
var _ = Describe("A rep started while garden is not yet answering", func() {
	It("keeps its records while it waits, and adopts the containers once garden answers", func() {
		first := startCell(cellOptions{id: "cell-late-garden", withProcessor: true})
		desireLRP("late-garden", sh("sleep 300"), nil)
		first.rep.Perform(logger, lrpWork("late-garden", 0))
		Eventually(func() string { return state(ordinaryRecord("late-garden", 0)()) }, 30*time.Second).Should(Equal(models.ActualLRPStateRunning))
		instance := ordinaryRecord("late-garden", 0)().InstanceGuid
		first.stop()

		proxy := &gardenProxy{path: filepath.Join(GinkgoT().TempDir(), "garden.sock")}
		second := startCell(cellOptions{id: "cell-late-garden", withProcessor: true, withAdopter: true, gardenSocket: proxy.path})
		DeferCleanup(func() { _ = tg.Client.Destroy(context.Background(), instance) })

		By("harmonising before adoption could happen: the record is not given away")
		second.rep.Harmonize(context.Background())
		a := ordinaryRecord("late-garden", 0)()
		Expect(a.State).To(Equal(models.ActualLRPStateRunning))
		Expect(a.InstanceGuid).To(Equal(instance))

		By("garden answering")
		proxy.open()
		Eventually(func() bool { _, ok := second.exec.Get(instance); return ok }, 20*time.Second).Should(BeTrue())
		second.rep.Harmonize(context.Background())
		Consistently(func() string { return ordinaryRecord("late-garden", 0)().InstanceGuid }, 2*time.Second).Should(Equal(instance))
		Expect(state(ordinaryRecord("late-garden", 0)())).To(Equal(models.ActualLRPStateRunning))
		Expect(second.rep.State(context.Background()).LRPs).To(HaveLen(1))
	})
})
