package rep_test

import (
	"context"
	"net"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor"
	"github.com/diego-runtime/diego/models"
)

// dials reports whether addr:port accepts a connection now.
func dials(addr string, port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Issue 19, item 3: RUNNING means the liveness checks passed; routable follows readiness.
var _ = Describe("Readiness", func() {
	It("makes an instance RUNNING once its liveness check passes and routable only once its readiness check passes, also after adoption", func() {
		first := startCell(cellOptions{id: "cell-ready", withProcessor: true})
		// Liveness (8080) passes after about 2 s, readiness (9090) after about 5 s.
		desireLRP("slow-ready", sh("sleep 2; httpd -f -p 8080 -h /tmp & sleep 5; exec httpd -f -p 9090 -h /tmp"), &models.CheckDefinition{
			Checks:          []models.Check{{TCPCheck: &models.TCPCheck{Port: 8080}}},
			ReadinessChecks: []models.Check{{TCPCheck: &models.TCPCheck{Port: 9090}}},
		})
		Expect(first.rep.Perform(logger, lrpWork("slow-ready", 0)).LRPs).To(BeEmpty())

		var sawRunningUnroutable bool
		deadline := time.Now().Add(40 * time.Second)
		for {
			Expect(time.Now().Before(deadline)).To(BeTrue(), "the instance never became routable")
			a := ordinaryRecord("slow-ready", 0)()
			if a != nil && a.State == models.ActualLRPStateRunning {
				Expect(dials(a.InstanceAddress, 8080)).To(BeTrue(), "RUNNING before its liveness check could pass")
				if !a.Routable {
					sawRunningUnroutable = true
				} else {
					Expect(dials(a.InstanceAddress, 9090)).To(BeTrue(), "routable before its readiness check could pass")
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		Expect(sawRunningUnroutable).To(BeTrue(), "RUNNING (liveness) comes about 3 s before routable (readiness)")
		instance := ordinaryRecord("slow-ready", 0)().InstanceGuid

		By("adopting it after a restart: it runs its readiness check again and stays routable")
		first.stop()
		second := startCell(cellOptions{id: "cell-ready", withProcessor: true})
		n, err := second.exec.Adopt(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(1))
		Eventually(func() executor.State {
			c, _ := second.exec.Get(instance)
			return c.State
		}, 20*time.Second).Should(Equal(executor.StateRunning))
		routable := func() bool { a := ordinaryRecord("slow-ready", 0)(); return a != nil && a.Routable }
		Eventually(routable, 10*time.Second).Should(BeTrue())
		Consistently(routable, 2*time.Second, 100*time.Millisecond).Should(BeTrue())
		Eventually(func() bool { c, _ := second.exec.Get(instance); return c.Routable }, 10*time.Second).Should(BeTrue())
	})
})
