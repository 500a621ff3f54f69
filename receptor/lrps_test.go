package receptor_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

func lrpJSON(guid, domain string, instances int) string {
	return fmt.Sprintf(`{"process_guid":%q,"domain":%q,"instances":%d,"rootfs":"docker:///library/nginx#1.27",
		"action":{"run":{"path":"/usr/sbin/nginx","args":["-g","daemon off;"]}},"memory_mb":128,"disk_mb":256,"ports":[8080],
		"routes":{"cf-router":[{"hostnames":["app.example.com"],"port":8080}]},"annotation":"v1"}`, guid, domain, instances)
}

func desire(guid, domain string, instances int) {
	GinkgoHelper()
	resp := do("POST", "/v1/desired_lrps", lrpJSON(guid, domain, instances))
	Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
}

var _ = Describe("Desired LRPs", func() {
	Describe("POST /v1/desired_lrps", func() {
		It("stores the LRP, creates its instances and asks the auctioneer to place them", func() {
			desire("web", "d1", 2)
			lrp := decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/web", ""))
			Expect(lrp.Instances).To(Equal(2))
			Expect(lrp.Domain).To(Equal("d1"))
			Expect(lrp.Annotation).To(Equal("v1"))
			Expect(lrp.ModificationTag.Epoch).NotTo(BeEmpty())

			actuals := decode[[]models.ActualLRP](do("GET", "/v1/actual_lrps/web", ""))
			Expect(actuals).To(HaveLen(2))
			Expect(actuals[0].State).To(Equal(models.ActualLRPStateUnclaimed))
			Eventually(auctioneer.LRPStarts).ShouldNot(BeEmpty())
		})

		It("answers 409 DesiredLRPAlreadyExists for a second LRP with the same guid", func() {
			desire("web", "d1", 1)
			expectError(do("POST", "/v1/desired_lrps", lrpJSON("web", "d2", 5)), http.StatusConflict, "DesiredLRPAlreadyExists")
			Expect(decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/web", "")).Instances).To(Equal(1))
		})

		DescribeTable("refuses bad input and stores nothing",
			func(body string, status int, name, mentions string) {
				msg := expectError(do("POST", "/v1/desired_lrps", body), status, name)
				Expect(msg).To(ContainSubstring(mentions))
				Expect(string(do("GET", "/v1/desired_lrps", "").Body)).To(Equal("[]\n"))
				Expect(string(do("GET", "/v1/actual_lrps", "").Body)).To(Equal("[]\n"))
			},
			Entry("malformed JSON", `{"process_guid":"web",`, http.StatusBadRequest, "InvalidJSON", "JSON"),
			Entry("a wrong-typed field", strings.Replace(lrpJSON("web", "d", 1), `"instances":1`, `"instances":"one"`, 1),
				http.StatusBadRequest, "InvalidJSON", "instances"),
			Entry("an invalid guid", lrpJSON("web app", "d", 1), http.StatusBadRequest, "InvalidLRP", "process_guid"),
			Entry("negative instances", lrpJSON("web", "d", -1), http.StatusBadRequest, "InvalidLRP", "instances"),
			Entry("no domain", lrpJSON("web", "", 1), http.StatusBadRequest, "InvalidLRP", "domain"),
			Entry("an action with two keys", strings.Replace(lrpJSON("web", "d", 1), `"action":{"run"`, `"action":{"try":{"action":{"run":{"path":"x"}}},"run"`, 1),
				http.StatusBadRequest, "InvalidLRP", "action"),
			Entry("an unknown rootfs scheme", strings.Replace(lrpJSON("web", "d", 1), "docker:///", "gopher:///", 1),
				http.StatusBadRequest, "InvalidLRP", "rootfs"),
			Entry("an oversized body", strings.Replace(lrpJSON("web", "d", 1), `"annotation":"v1"`, `"annotation":"`+strings.Repeat("x", 2<<20)+`"`, 1),
				http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "larger"),
		)
	})

	Describe("GET /v1/desired_lrps", func() {
		It("answers [] when there are none, else every LRP or those of one domain", func() {
			Expect(string(do("GET", "/v1/desired_lrps", "").Body)).To(Equal("[]\n"))
			desire("a", "d1", 0)
			desire("b", "d2", 0)
			guids := func(path string) []string {
				var out []string
				for _, l := range decode[[]models.DesiredLRP](do("GET", path, "")) {
					out = append(out, l.ProcessGuid)
				}
				return out
			}
			Expect(guids("/v1/desired_lrps")).To(ConsistOf("a", "b"))
			Expect(guids("/v1/desired_lrps?domain=d1")).To(ConsistOf("a"))
		})

		It("answers 404 DesiredLRPNotFound for an unknown LRP", func() {
			expectError(do("GET", "/v1/desired_lrps/nope", ""), http.StatusNotFound, "DesiredLRPNotFound")
		})
	})

	Describe("PUT /v1/desired_lrps/:guid", func() {

		It("changes instances, routes and annotation and scales at once", func() {
			desire("web", "d", 1)
			resp := do("PUT", "/v1/desired_lrps/web", `{"instances":3,"annotation":"v2","routes":{"cf-router":[{"hostnames":["new.example.com"],"port":8080}]}}`)
			Expect(resp.Status).To(Equal(http.StatusNoContent), string(resp.Body))
			lrp := decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/web", ""))
			Expect(lrp.Instances).To(Equal(3))
			Expect(lrp.Annotation).To(Equal("v2"))
			Expect(string(lrp.Routes["cf-router"])).To(ContainSubstring("new.example.com"))
			Expect(decode[[]models.ActualLRP](do("GET", "/v1/actual_lrps/web", ""))).To(HaveLen(3))
		})

		DescribeTable("refuses bad updates and changes nothing",
			func(body string, name, mentions string) {
				desire("web", "d", 1)
				msg := expectError(do("PUT", "/v1/desired_lrps/web", body), http.StatusBadRequest, name)
				Expect(msg).To(ContainSubstring(mentions))
				lrp := decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/web", ""))
				Expect(lrp.Instances).To(Equal(1))
				Expect(lrp.Annotation).To(Equal("v1"))
			},
			Entry("an immutable field", `{"instances":2,"privileged":true}`, "InvalidRequest", "privileged"),
			Entry("another immutable field", `{"log_guid":"other"}`, "InvalidRequest", "log_guid"),
			Entry("an unknown rootfs scheme", `{"instances":2,"rootfs":"gopher:///other"}`, "InvalidRequest", "rootfs"),
			Entry("a roll policy that allows nothing", `{"roll_policy":{"max_surge":0,"max_unavailable":0}}`, "InvalidRequest", "roll_policy"),
			Entry("negative instances", `{"instances":-2}`, "InvalidRequest", "instances"),
			Entry("a wrong-typed field", `{"instances":"two"}`, "InvalidJSON", "instances"),
			Entry("malformed JSON", `{"instances":`, "InvalidJSON", "JSON"),
			Entry("an oversized annotation", `{"annotation":"`+strings.Repeat("a", 11*1024)+`"}`, "InvalidRequest", "annotation"),
		)

		It("answers 404 DesiredLRPNotFound for an unknown LRP", func() {
			expectError(do("PUT", "/v1/desired_lrps/nope", `{"instances":1}`), http.StatusNotFound, "DesiredLRPNotFound")
		})

		It("changes the run definition into a new version and reports the roll's progress", func() {
			desire("web", "d", 2)
			before := decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/web", ""))
			Expect(before.Version).NotTo(BeEmpty())
			Expect(before.Roll).NotTo(BeNil())
			resp := do("PUT", "/v1/desired_lrps/web", `{"rootfs":"docker:///other#2","env":[{"name":"V","value":"2"}],"memory_mb":64,"roll_policy":{"max_surge":2,"max_unavailable":0}}`)
			Expect(resp.Status).To(Equal(http.StatusNoContent), string(resp.Body))
			after := decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/web", ""))
			Expect(after.RootFS).To(Equal("docker:///other#2"))
			Expect(after.MemoryMB).To(Equal(64))
			Expect(after.RollPolicy).To(Equal(&models.RollPolicy{MaxSurge: 2}))
			Expect(after.Version).NotTo(Equal(before.Version))
			Expect(after.Roll).To(Equal(&models.RollStatus{State: models.RollStateDone, Total: 2}), "no instance has started yet, so none is old")
		})

		It("answers 204 or 409 ResourceConflict to racing writers and keeps one of their values", func() {
			desire("web", "d", 1)
			statuses := make(chan int, 8)
			for i := 0; i < 8; i++ {
				go func(n int) {
					defer GinkgoRecover()
					resp := do("PUT", "/v1/desired_lrps/web", fmt.Sprintf(`{"annotation":"writer-%d"}`, n))
					if resp.Status != http.StatusNoContent {
						expectError(resp, http.StatusConflict, "ResourceConflict")
					}
					statuses <- resp.Status
				}(i)
			}
			for i := 0; i < 8; i++ {
				Eventually(statuses, "10s").Should(Receive(BeElementOf(http.StatusNoContent, http.StatusConflict)))
			}
			Expect(decode[models.DesiredLRP](do("GET", "/v1/desired_lrps/web", "")).Annotation).To(HavePrefix("writer-"))
		})
	})

	Describe("DELETE /v1/desired_lrps/:guid", func() {
		It("removes the LRP and retires its instances", func() {
			desire("web", "d", 2)
			Expect(do("DELETE", "/v1/desired_lrps/web", "").Status).To(Equal(http.StatusNoContent))
			expectError(do("GET", "/v1/desired_lrps/web", ""), http.StatusNotFound, "DesiredLRPNotFound")
			Eventually(func() string { return string(do("GET", "/v1/actual_lrps/web", "").Body) }).Should(Equal("[]\n"))
		})

		It("answers 404 DesiredLRPNotFound for an unknown LRP", func() {
			expectError(do("DELETE", "/v1/desired_lrps/nope", ""), http.StatusNotFound, "DesiredLRPNotFound")
		})
	})
})

var _ = Describe("Actual LRPs", func() {
	It("answers [] when there are none", func() {
		Expect(string(do("GET", "/v1/actual_lrps", "").Body)).To(Equal("[]\n"))
		Expect(string(do("GET", "/v1/actual_lrps/nope", "").Body)).To(Equal("[]\n"))
	})

	It("lists flat records, filtered by domain or process guid", func() {
		desire("a", "d1", 2)
		desire("b", "d2", 1)
		Expect(decode[[]models.ActualLRP](do("GET", "/v1/actual_lrps", ""))).To(HaveLen(3))
		Expect(decode[[]models.ActualLRP](do("GET", "/v1/actual_lrps?domain=d2", ""))).To(HaveLen(1))

		records := decode[[]map[string]json.RawMessage](do("GET", "/v1/actual_lrps/a", ""))
		Expect(records).To(HaveLen(2))
		for _, field := range []string{"process_guid", "index", "domain", "instance_guid", "cell_id", "address",
			"instance_address", "ports", "state", "crash_count", "since", "presence", "evacuating", "routable", "modification_tag"} {
			Expect(records[0]).To(HaveKey(field))
		}
		Expect(string(records[0]["index"])).To(Equal("0"))
		Expect(string(records[1]["index"])).To(Equal("1"))
	})

	Describe("GET /v1/actual_lrps/:guid/index/:i", func() {
		It("answers the preferred record of that index", func() {
			desire("web", "d", 2)
			key := models.ActualLRPKey{ProcessGuid: "web", Index: 1, Domain: "d"}
			instance := models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellID: "cell-1"}
			Expect(bbsClient.ClaimActualLRP(ctx(), logger, key, instance)).To(Succeed())
			net := models.ActualLRPNetInfo{Address: "10.0.0.1", InstanceAddress: "10.255.0.2", Ports: []models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}
			Expect(bbsClient.StartActualLRP(ctx(), logger, key, instance, net, true)).To(Succeed())

			lrp := decode[models.ActualLRP](do("GET", "/v1/actual_lrps/web/index/1", ""))
			Expect(lrp.State).To(Equal(models.ActualLRPStateRunning))
			Expect(lrp.InstanceGuid).To(Equal("ig-1"))
			Expect(lrp.Ports).To(Equal(net.Ports))
			Expect(lrp.Presence).To(Equal(models.PresenceOrdinary))
		})

		It("answers 400 for a bad index and 404 ActualLRPIndexNotFound for a missing one", func() {
			desire("web", "d", 1)
			expectError(do("GET", "/v1/actual_lrps/web/index/one", ""), http.StatusBadRequest, "InvalidRequest")
			expectError(do("GET", "/v1/actual_lrps/web/index/-1", ""), http.StatusBadRequest, "InvalidRequest")
			expectError(do("GET", "/v1/actual_lrps/web/index/7", ""), http.StatusNotFound, "ActualLRPIndexNotFound")
			expectError(do("GET", "/v1/actual_lrps/nope/index/0", ""), http.StatusNotFound, "ActualLRPIndexNotFound")
		})
	})

	Describe("DELETE /v1/actual_lrps/:guid/index/:i", func() {
		It("stops the instance and starts a replacement at once", func() {
			desire("web", "d", 1)
			key := models.ActualLRPKey{ProcessGuid: "web", Index: 0, Domain: "d"}
			instance := models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellID: "cell-1"}
			Expect(bbsClient.ClaimActualLRP(ctx(), logger, key, instance)).To(Succeed())
			Expect(bbsClient.StartActualLRP(ctx(), logger, key, instance, models.ActualLRPNetInfo{Address: "10.0.0.1"}, true)).To(Succeed())
			_, err := bbsClient.RegisterCell(ctx(), logger, models.CellPresence{CellID: "cell-1", RepAddress: rep.Listener.Addr().String(), RepURL: rep.URL}, 30)
			Expect(err).NotTo(HaveOccurred())
			startsBefore := len(auctioneer.LRPStarts())

			Expect(do("DELETE", "/v1/actual_lrps/web/index/0", "").Status).To(Equal(http.StatusNoContent))

			Eventually(func() []string {
				var paths []string
				for _, r := range rep.Requests() {
					paths = append(paths, r.Path)
				}
				return paths
			}).Should(ContainElement("/v1/lrps/web/instances/ig-1/stop"))
			Eventually(func() int { return len(auctioneer.LRPStarts()) }).Should(BeNumerically(">", startsBefore))
			Eventually(func() string {
				return decode[models.ActualLRP](do("GET", "/v1/actual_lrps/web/index/0", "")).InstanceGuid
			}).ShouldNot(Equal("ig-1"))
		})

		It("answers 404 for a missing index", func() {
			desire("web", "d", 1)
			expectError(do("DELETE", "/v1/actual_lrps/web/index/3", ""), http.StatusNotFound, "ActualLRPIndexNotFound")
		})
	})
})
