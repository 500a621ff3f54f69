//go:build e2e

package acceptance_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("Long-running processes", func() {
	It("run as desired, one instance per zone, each routed", func() {
		g := guid("desire")
		desire(appJSON(g, 3))
		running, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		cells := map[string]bool{}
		for _, a := range running {
			cells[a.CellID] = true
			Expect(a.Routable).To(BeTrue())
			Expect(a.Ports).To(HaveLen(1))
			Expect(a.Ports[0].ContainerPort).To(Equal(uint32(8080)))
		}
		Expect(cells).To(HaveLen(3), "3 instances on 3 cells in 3 zones")
		Eventually(func() map[int]bool { return answering(g+".test", 9) }, 10*time.Second).
			Should(Equal(map[int]bool{0: true, 1: true, 2: true}))
	})

	It("scale up, down, to zero and back", func() {
		g := guid("scale")
		desire(appJSON(g, 1))
		path := "/v1/desired_lrps/" + g
		for _, n := range []int{4, 2, 0, 2} {
			put(path, J{"instances": n}, http.StatusNoContent)
			Eventually(func(g2 Gomega) {
				list, err := w.ActualLRPs(g)
				g2.Expect(err).NotTo(HaveOccurred())
				g2.Expect(list).To(HaveLen(n))
				for _, a := range list {
					g2.Expect(a.State).To(Equal(models.ActualLRPStateRunning))
					g2.Expect(a.Index).To(BeNumerically("<", n))
				}
			}, 60*time.Second).Should(Succeed(), "scaling to %d", n)
			want := map[int]bool{}
			for i := 0; i < n; i++ {
				want[i] = true
			}
			Eventually(func() map[int]bool { return answering(g+".test", 3*n+3) }, 10*time.Second).Should(Equal(want), "routes at %d", n)
		}
	})

	It("take new routes and a new annotation, bumping the modification tag", func() {
		g := guid("update")
		desire(appJSON(g, 1))
		before, err := w.DesiredLRP(g)
		Expect(err).NotTo(HaveOccurred())

		put("/v1/desired_lrps/"+g, J{"routes": routes(g + ".renamed"), "annotation": "v2"}, http.StatusNoContent)
		after, err := w.DesiredLRP(g)
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Annotation).To(Equal("v2"))
		Expect(after.ModificationTag.Epoch).To(Equal(before.ModificationTag.Epoch))
		Expect(after.ModificationTag.Index).To(BeNumerically(">", before.ModificationTag.Index))

		Eventually(func() (int, error) {
			resp, err := w.Get(g+".renamed", "/")
			return resp.Status, err
		}, 10*time.Second).Should(Equal(http.StatusOK))
		Eventually(func() (int, error) {
			resp, err := w.Get(g+".test", "/")
			return resp.Status, err
		}, 10*time.Second).Should(Equal(http.StatusNotFound))
	})

	It("are stopped and unrouted when deleted", func() {
		g := guid("delete")
		desire(appJSON(g, 2))
		del("/v1/desired_lrps/"+g, http.StatusNoContent)
		Expect(status("/v1/desired_lrps/" + g)).To(Equal(http.StatusNotFound))
		Eventually(func() (int, error) {
			list, err := w.ActualLRPs(g)
			return len(list), err
		}, 20*time.Second).Should(BeZero())
		Eventually(func() (int, error) {
			resp, err := w.Get(g+".test", "/")
			return resp.Status, err
		}, 5*time.Second).Should(Equal(http.StatusNotFound))
		resp := del("/v1/desired_lrps/"+g, http.StatusNotFound)
		Expect(resp.Error().Name).To(Equal("DesiredLRPNotFound"))
	})

	It("restart a killed index at once, with a new instance guid", func() {
		g := guid("kill")
		desire(appJSON(g, 2))
		before, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		killed := time.Now()
		del("/v1/actual_lrps/"+g+"/index/0", http.StatusNoContent)
		Eventually(func(g2 Gomega) {
			running, err := w.RunningIndices(g)
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(running).To(HaveKey(0))
			g2.Expect(running[0].InstanceGuid).NotTo(Equal(before[0].InstanceGuid))
		}, 15*time.Second).Should(Succeed())
		Expect(time.Since(killed)).To(BeNumerically("<", 15*time.Second))
		running, _ := w.RunningIndices(g)
		Expect(running[1].InstanceGuid).To(Equal(before[1].InstanceGuid), "index 1 untouched")
	})

	It("give every instance its env: INSTANCE_INDEX, INSTANCE_GUID, CF_INSTANCE_*", func() {
		g := guid("env")
		desire(appJSON(g, 1, J{"env": []J{{"name": "COLOR", "value": "blue"}}}))
		running, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		a := running[0]
		var env map[string]string
		Eventually(func() (map[string]string, error) {
			env, err = instanceEnv(g + ".test")
			return env, err
		}, 10*time.Second).Should(HaveKey("INSTANCE_GUID"))
		hostPort := strconv.Itoa(int(a.Ports[0].HostPort))
		Expect(env).To(HaveKeyWithValue("COLOR", "blue"))
		Expect(env).To(HaveKeyWithValue("INSTANCE_INDEX", "0"))
		Expect(env).To(HaveKeyWithValue("INSTANCE_GUID", a.InstanceGuid))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_IP", a.Address))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_PORT", hostPort))
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_ADDR", a.Address+":"+hostPort))
		Expect(env).To(HaveKeyWithValue("PORT", "8080"), "the image's env is kept")
		Expect(env).To(HaveKey("CF_INSTANCE_PORTS"))
		var ports []map[string]int
		Expect(json.Unmarshal([]byte(env["CF_INSTANCE_PORTS"]), &ports)).To(Succeed())
		Expect(ports).To(Equal([]map[string]int{{"external": int(a.Ports[0].HostPort), "internal": 8080}}))
	})

	It("spread over zones first: 6 instances on 3 zones are 2 per zone", func() {
		g := guid("spread")
		desire(appJSON(g, 6))
		running, err := w.RunningIndices(g)
		Expect(err).NotTo(HaveOccurred())
		perCell := map[string]int{}
		for _, a := range running {
			perCell[a.CellID]++
		}
		Expect(perCell).To(Equal(map[string]int{"cell-1": 2, "cell-2": 2, "cell-3": 2}))
	})

	It("stay unclaimed with the placement error when no cell has their placement tag", func() {
		g := guid("tagged")
		post("/v1/desired_lrps", appJSON(g, 1, J{"placement_tags": []string{"gpu"}}), http.StatusCreated)
		Eventually(func(g2 Gomega) {
			list, err := w.ActualLRPs(g)
			g2.Expect(err).NotTo(HaveOccurred())
			g2.Expect(list).To(HaveLen(1))
			g2.Expect(list[0].State).To(Equal(models.ActualLRPStateUnclaimed))
			g2.Expect(list[0].PlacementError).To(Equal(`found no compatible cell with placement tag "gpu"`))
		}, 30*time.Second).Should(Succeed())
	})

	It("report every change on the event stream", func() {
		g := guid("events")
		events := streamEvents()
		desire(appJSON(g, 1))
		del("/v1/desired_lrps/"+g, http.StatusNoContent)
		for _, name := range []string{"desired_lrp_created", "actual_lrp_created", "actual_lrp_changed", "desired_lrp_removed", "actual_lrp_removed"} {
			Eventually(events, 20*time.Second).Should(Receive(WithTransform(func(e sse) string { return e.name }, Equal(name))), name)
		}
	})
})

// sse is one event of /v1/events.
type sse struct {
	name string
	data string
}

// streamEvents follows /v1/events until the spec ends.
func streamEvents() chan sse { return followStream("/v1/events") }
