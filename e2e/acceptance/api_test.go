//go:build e2e

package acceptance_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Domains", func() {
	It("are fresh until their max-age runs out, or forever without one", func() {
		short, forever := guid("short"), guid("forever")
		put("/v1/domains/"+short, nil, http.StatusNoContent, "Cache-Control", "max-age=2")
		put("/v1/domains/"+forever, nil, http.StatusNoContent)
		domains := func() ([]string, error) {
			var list []string
			resp, err := w.Request(http.MethodGet, "/v1/domains", nil)
			if err != nil {
				return nil, err
			}
			return list, json.Unmarshal(resp.Body, &list)
		}
		Expect(domains()).To(ContainElements(short, forever))
		Eventually(domains, 10*time.Second).ShouldNot(ContainElement(short))
		Consistently(domains, 2*time.Second).Should(ContainElement(forever))
	})
})

var _ = Describe("Bad input", func() {
	var valid string
	BeforeEach(func() { valid = guid("valid") })

	DescribeTable("an LRP is refused, naming the field, and nothing is stored",
		func(field string, mutate func(J), wantName string) {
			lrp := appJSON(valid, 1)
			mutate(lrp)
			resp := post("/v1/desired_lrps", lrp, http.StatusBadRequest)
			Expect(resp.Error().Name).To(Equal(wantName))
			Expect(resp.Error().Message).To(ContainSubstring(field))
			Expect(status("/v1/desired_lrps/" + valid)).To(Equal(http.StatusNotFound))
		},
		Entry("a bad process guid", "process_guid", func(l J) { l["process_guid"] = "a b" }, "InvalidLRP"),
		Entry("no domain", "domain", func(l J) { delete(l, "domain") }, "InvalidLRP"),
		Entry("negative instances", "instances", func(l J) { l["instances"] = -1 }, "InvalidLRP"),
		Entry("no rootfs", "rootfs", func(l J) { delete(l, "rootfs") }, "InvalidLRP"),
		Entry("an unknown rootfs scheme", "rootfs", func(l J) { l["rootfs"] = "ftp://example.com/image" }, "InvalidLRP"),
		Entry("a user without a password", "image_password", func(l J) { l["image_username"] = "me" }, "InvalidLRP"),
		Entry("no action", "action", func(l J) { delete(l, "action") }, "InvalidLRP"),
		Entry("an action with two keys", "action", func(l J) {
			l["action"] = J{"run": J{"path": "/bin/true"}, "try": J{"action": run("/bin/true")}}
		}, "InvalidLRP"),
		Entry("negative memory", "memory_mb", func(l J) { l["memory_mb"] = -1 }, "InvalidLRP"),
		Entry("negative disk", "disk_mb", func(l J) { l["disk_mb"] = -1 }, "InvalidLRP"),
		Entry("a cpu weight over 100", "cpu_weight", func(l J) { l["cpu_weight"] = 101 }, "InvalidLRP"),
		Entry("a check with two kinds", "check", func(l J) {
			l["check_definition"] = J{"checks": []J{{"tcp_check": J{"port": 8080}, "http_check": J{"port": 8080}}}}
		}, "InvalidLRP"),
		Entry("an annotation over 10 KiB", "annotation", func(l J) { l["annotation"] = strings.Repeat("a", 10*1024+1) }, "InvalidLRP"),
		Entry("routes over 128 KiB", "routes", func(l J) { l["routes"] = J{"other": strings.Repeat("a", 128*1024+1)} }, "InvalidLRP"),
		Entry("instances of the wrong type", "instances", func(l J) { l["instances"] = "two" }, "InvalidJSON"),
	)

	DescribeTable("a task is refused, naming the field, and nothing is stored",
		func(field string, mutate func(J), wantName string) {
			task := taskJSON(valid, sh("true"))
			mutate(task)
			resp := post("/v1/tasks", task, http.StatusBadRequest)
			Expect(resp.Error().Name).To(Equal(wantName))
			Expect(resp.Error().Message).To(ContainSubstring(field))
			Expect(status("/v1/tasks/" + valid)).To(Equal(http.StatusNotFound))
		},
		Entry("no task guid", "task_guid", func(t J) { delete(t, "task_guid") }, "InvalidTask"),
		Entry("no domain", "domain", func(t J) { delete(t, "domain") }, "InvalidTask"),
		Entry("no action", "action", func(t J) { delete(t, "action") }, "InvalidTask"),
		Entry("an unparseable callback URL", "completion_callback_url", func(t J) { t["completion_callback_url"] = "://nope" }, "InvalidTask"),
		Entry("negative memory", "memory_mb", func(t J) { t["memory_mb"] = -5 }, "InvalidTask"),
	)

	It("refuses malformed JSON", func() {
		for _, path := range []string{"/v1/tasks", "/v1/desired_lrps"} {
			resp := post(path, `{"process_guid":`, http.StatusBadRequest)
			Expect(resp.Error().Name).To(Equal("InvalidJSON"))
		}
	})

	It("refuses an update of a field that cannot change, and changes nothing", func() {
		desire(appJSON(valid, 1))
		// rootfs, action and the like roll (docs/rolling.md); privileged is
		// part of what the app is and never changes in place.
		resp := put("/v1/desired_lrps/"+valid, J{"instances": 2, "privileged": true}, http.StatusBadRequest)
		Expect(resp.Error().Name).To(Equal("InvalidRequest"))
		Expect(resp.Error().Message).To(ContainSubstring("privileged"))
		d, err := w.DesiredLRP(valid)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Instances).To(Equal(1))
	})

	It("answers the documented errors for missing and duplicate records", func() {
		Expect(post("/v1/desired_lrps", appJSON(valid, 0), http.StatusCreated).Status).To(Equal(http.StatusCreated))
		Expect(post("/v1/desired_lrps", appJSON(valid, 0), http.StatusConflict).Error().Name).To(Equal("DesiredLRPAlreadyExists"))
		Expect(put("/v1/desired_lrps/nope-"+valid, J{"instances": 1}, http.StatusNotFound).Error().Name).To(Equal("DesiredLRPNotFound"))

		for path, name := range map[string]string{
			"/v1/desired_lrps/nope-" + valid:        "DesiredLRPNotFound",
			"/v1/tasks/nope-" + valid:               "TaskNotFound",
			"/v1/actual_lrps/" + valid + "/index/3": "ActualLRPIndexNotFound",
		} {
			resp, err := w.Request(http.MethodGet, path, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Status).To(Equal(http.StatusNotFound), path)
			Expect(resp.Error().Name).To(Equal(name), path)
		}
		resp, err := w.Request(http.MethodGet, "/v1/actual_lrps/"+valid+"/index/minus-one", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Status).To(Equal(http.StatusBadRequest))
		Expect(resp.Error().Name).To(Equal("InvalidRequest"))
		Expect(post("/v1/tasks/nope-"+valid+"/cancel", nil, http.StatusNotFound).Error().Name).To(Equal("TaskNotFound"))
		Expect(del("/v1/tasks/nope-"+valid, http.StatusNotFound).Error().Name).To(Equal("TaskNotFound"))
	})

	It("refuses a bad domain or max-age", func() {
		Expect(put("/v1/domains/"+valid, nil, http.StatusBadRequest, "Cache-Control", "max-age=soon").Error().Name).To(Equal("InvalidDomain"))
		Expect(put("/v1/domains/bad%20name", nil, http.StatusBadRequest).Error().Name).To(Equal("InvalidDomain"))
	})

	It("lists are [] when empty", func() {
		resp, err := w.Request(http.MethodGet, "/v1/tasks?domain=empty-"+valid, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(string(resp.Body))).To(Equal("[]"))
		resp, err = w.Request(http.MethodGet, "/v1/actual_lrps/"+valid, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(string(resp.Body))).To(Equal("[]"))
	})
})
