package receptor_test

import (
	"encoding/json"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// lrp2015 is a desired LRP as the 2015 receptor Go client serialised a
// DesiredLRPCreateRequest: action first, then the fields in its struct order;
// log_guid, log_source, metrics_guid, ports and start_timeout always present,
// env, routes, annotation and egress_rules left out when empty; the actions
// as runtime-schema wrote them (user and resource_limits always, cache_key
// always on a download, start_message and friends always on emit_progress).
const lrp2015 = `{
	"setup": {"serial": {"actions": [
		{"download": {"from": "http://files.example.com/droplet.tgz", "to": "/home/vcap", "cache_key": "", "user": "vcap"}},
		{"emit_progress": {"action": {"run": {"path": "/bin/true", "resource_limits": {}, "user": "vcap"}},
			"start_message": "", "success_message": "", "failure_message_prefix": "", "log_source": "STG"}}
	]}},
	"action": {"codependent": {"actions": [
		{"run": {"path": "/home/vcap/app/start", "args": ["--port", "8080"], "dir": "/home/vcap",
			"env": [{"name": "PORT", "value": "8080"}], "resource_limits": {"nofile": 1024}, "user": "vcap", "log_source": "APP"}},
		{"timeout": {"action": {"try": {"action": {"run": {"path": "/bin/sleep", "args": ["1"], "resource_limits": {}, "user": "vcap"}}}},
			"timeout": 30000000000, "log_source": "HEALTH"}}
	], "log_source": "APP"}},
	"monitor": {"run": {"path": "/bin/true", "resource_limits": {}, "user": "vcap", "log_source": "HEALTH"}},
	"process_guid": "legacy-app",
	"domain": "cf-apps",
	"rootfs": "docker:///library/nginx#1.27",
	"instances": 2,
	"env": [{"name": "VCAP_APPLICATION", "value": "{}"}],
	"start_timeout": 60,
	"disk_mb": 1024,
	"memory_mb": 256,
	"cpu_weight": 10,
	"privileged": false,
	"ports": [8080],
	"routes": {"cf-router": [{"hostnames": ["legacy.example.com"], "port": 8080}]},
	"log_guid": "legacy-log",
	"log_source": "CELL",
	"metrics_guid": "legacy-metrics",
	"annotation": "etag-1",
	"egress_rules": [{"protocol": "icmp", "destinations": ["0.0.0.0/0"], "icmp_info": {"type": 0, "code": 0}, "log": false}]
}`

// task2015 is a TaskCreateRequest as the 2015 client serialised it: every
// string field present, empty or not; env and egress_rules left out.
const task2015 = `{
	"action": {"run": {"path": "/bin/echo", "args": ["hi"], "resource_limits": {}, "user": "root"}},
	"completion_callback_url": "",
	"cpu_weight": 0,
	"disk_mb": 64,
	"domain": "tasks",
	"log_guid": "",
	"log_source": "",
	"metrics_guid": "",
	"memory_mb": 64,
	"result_file": "",
	"task_guid": "legacy-task",
	"rootfs": "docker:///library/busybox#1.36",
	"privileged": false
}`

// edit parses a JSON object, lets change modify it and writes it back.
func edit(body string, change func(m map[string]any)) string {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal([]byte(body), &m)).To(Succeed())
	change(m)
	b, err := json.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// set returns an edit that writes value at the dotted path (list indices as
// numbers), creating nothing: the path must exist but for its last key.
func set(path string, value any) func(map[string]any) {
	return func(m map[string]any) {
		keys := strings.Split(path, ".")
		var node any = m
		for _, k := range keys[:len(keys)-1] {
			switch n := node.(type) {
			case map[string]any:
				node = n[k]
			case []any:
				i := 0
				for _, c := range k {
					i = i*10 + int(c-'0')
				}
				node = n[i]
			}
		}
		last := keys[len(keys)-1]
		if list, ok := node.([]any); ok {
			i := 0
			for _, c := range last {
				i = i*10 + int(c-'0')
			}
			list[i] = value
			return
		}
		node.(map[string]any)[last] = value
	}
}

// lrpWith is lrp2015 with changes made, built when the spec runs.
func lrpWith(changes ...func(map[string]any)) func() string {
	return func() string {
		return edit(lrp2015, func(m map[string]any) {
			for _, c := range changes {
				c(m)
			}
		})
	}
}

// raw is a body as it is.
func raw(body string) func() string { return func() string { return body } }

// namesField reports whether an error message (a ValidationError list,
// "field: reason; ...") names field.
func namesField(message, field string) bool {
	for _, part := range strings.Split(message, "; ") {
		if strings.HasPrefix(part, field+": ") {
			return true
		}
	}
	return false
}

var _ = Describe("The 2015 receptor wire format", func() {
	Describe("what a 2015 client sends", func() {
		It("creates a desired LRP written as the 2015 client wrote it and reads every field back unchanged", func() {
			resp := do("POST", "/v1/desired_lrps", lrp2015)
			Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
			var sent, got map[string]json.RawMessage
			Expect(json.Unmarshal([]byte(lrp2015), &sent)).To(Succeed())
			got = decode[map[string]json.RawMessage](do("GET", "/v1/desired_lrps/legacy-app", ""))
			for field, value := range sent {
				Expect(got).To(HaveKey(field))
				Expect(got[field]).To(MatchJSON(value), field)
			}
			Expect(string(got["modification_tag"])).To(ContainSubstring(`"epoch"`))
		})

		DescribeTable("accepts the nulls and empty values a 2015 client sends",
			func(change func(map[string]any)) {
				resp := do("POST", "/v1/desired_lrps", edit(lrp2015, change))
				Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
			},
			Entry("setup: null (a response posted back)", set("setup", nil)),
			Entry("monitor: null", set("monitor", nil)),
			Entry("no setup or monitor", func(m map[string]any) { delete(m, "setup"); delete(m, "monitor") }),
			Entry("routes absent", func(m map[string]any) { delete(m, "routes") }),
			Entry("routes: null", set("routes", nil)),
			Entry("env: null", set("env", nil)),
			Entry("egress_rules: null", set("egress_rules", nil)),
			Entry("ports: null", set("ports", nil)),
			Entry("empty log_guid, log_source, metrics_guid", func(m map[string]any) {
				m["log_guid"], m["log_source"], m["metrics_guid"] = "", "", ""
			}),
			Entry("resource_limits: {}", set("monitor.run.resource_limits", map[string]any{})),
			Entry("empty user and cache_key", func(m map[string]any) {
				set("setup.serial.actions.0.download.user", "")(m)
				set("setup.serial.actions.0.download.cache_key", "")(m)
			}),
		)

		It("creates a task written as the 2015 client wrote it and reads every field back unchanged", func() {
			resp := do("POST", "/v1/tasks", task2015)
			Expect(resp.Status).To(Equal(http.StatusCreated), string(resp.Body))
			var sent map[string]json.RawMessage
			Expect(json.Unmarshal([]byte(task2015), &sent)).To(Succeed())
			got := decode[map[string]json.RawMessage](do("GET", "/v1/tasks/legacy-task", ""))
			for field, value := range sent {
				Expect(got).To(HaveKey(field))
				Expect(got[field]).To(MatchJSON(value), field)
			}
			for _, field := range []string{"cell_id", "created_at", "failed", "failure_reason", "result", "state"} {
				Expect(got).To(HaveKey(field))
			}
		})

		DescribeTable("updates a desired LRP with a DesiredLRPUpdateRequest",
			func(body string, check func(map[string]json.RawMessage)) {
				Expect(do("POST", "/v1/desired_lrps", lrp2015).Status).To(Equal(http.StatusCreated))
				resp := do("PUT", "/v1/desired_lrps/legacy-app", body)
				Expect(resp.Status).To(Equal(http.StatusNoContent), string(resp.Body))
				check(decode[map[string]json.RawMessage](do("GET", "/v1/desired_lrps/legacy-app", "")))
			},
			Entry("instances alone", `{"instances":3}`, func(m map[string]json.RawMessage) {
				Expect(m["instances"]).To(MatchJSON(`3`))
			}),
			Entry("routes alone", `{"routes":{"cf-router":[{"hostnames":["new.example.com"],"port":8080}]}}`, func(m map[string]json.RawMessage) {
				Expect(m["routes"]).To(MatchJSON(`{"cf-router":[{"hostnames":["new.example.com"],"port":8080}]}`))
				Expect(m["instances"]).To(MatchJSON(`2`))
			}),
			Entry("all three", `{"instances":0,"routes":{"cf-router":[]},"annotation":"etag-2"}`, func(m map[string]json.RawMessage) {
				Expect(m["instances"]).To(MatchJSON(`0`))
				Expect(m["annotation"]).To(MatchJSON(`"etag-2"`))
			}),
		)
	})

	Describe("what is refused", func() {
		DescribeTable("a desired LRP body, with the error the 2015 server gave and the field it names",
			func(body func() string, name, field string) {
				msg := expectError(do("POST", "/v1/desired_lrps", body()), http.StatusBadRequest, name)
				if name == "InvalidLRP" {
					Expect(namesField(msg, field)).To(BeTrue(), msg)
				} else {
					Expect(msg).To(ContainSubstring(field))
				}
				Expect(string(do("GET", "/v1/desired_lrps", "").Body)).To(Equal("[]\n"))
			},
			Entry("malformed JSON", raw(`{"process_guid":`), "InvalidJSON", "JSON"),
			Entry("a wrong type at the top", lrpWith(set("instances", "two")), "InvalidJSON", "instances"),
			Entry("a wrong type inside an action", lrpWith(set("monitor.run.args", "x")), "InvalidJSON", "run action"),
			Entry("an unknown field at the top", lrpWith(set("colour", "red")), "InvalidJSON", `"colour"`),
			Entry("start_timeout_ms, gone since 2015's start_timeout", lrpWith(set("start_timeout_ms", 60000)), "InvalidJSON", `"start_timeout_ms"`),
			Entry("an unknown field in a run action", lrpWith(set("monitor.run.privileged", true)), "InvalidJSON", `"privileged"`),
			Entry("timeout_ms in a nested timeout action", lrpWith(set("action.codependent.actions.1.timeout.timeout_ms", 5)), "InvalidJSON", `"timeout_ms"`),
			Entry("an unknown field in an egress rule", lrpWith(set("egress_rules.0.colour", "red")), "InvalidJSON", `"colour"`),
			Entry("an unknown field in a health check", lrpWith(set("check_definition", map[string]any{"checks": []any{map[string]any{"tcp_check": map[string]any{"port": 8080, "colour": 1}}}})), "InvalidJSON", `"colour"`),
			Entry("an unknown action kind at the top", lrpWith(set("action", map[string]any{"exec": map[string]any{}})), "InvalidLRP", "action"),
			Entry("an action with no key", lrpWith(set("monitor", map[string]any{})), "InvalidLRP", "monitor"),
			Entry("a nested action with two keys", lrpWith(set("action.codependent.actions.1", map[string]any{
				"run": map[string]any{"path": "/a"}, "try": map[string]any{}})), "InvalidLRP", "action.codependent.actions[1]"),
			Entry("an unknown kind deep inside", lrpWith(set("action.codependent.actions.1.timeout.action.try.action", map[string]any{"exec": map[string]any{}})),
				"InvalidLRP", "action.codependent.actions[1].timeout.action.try.action"),
			Entry("a null kind inside setup", lrpWith(set("setup.serial.actions.1", map[string]any{"run": nil})), "InvalidLRP", "setup.serial.actions[1]"),
			Entry("no action", lrpWith(set("action", nil)), "InvalidLRP", "action"),
		)

		DescribeTable("a task body",
			func(change func(map[string]any), name, field string) {
				msg := expectError(do("POST", "/v1/tasks", edit(task2015, change)), http.StatusBadRequest, name)
				if name == "InvalidTask" {
					Expect(namesField(msg, field)).To(BeTrue(), msg)
				} else {
					Expect(msg).To(ContainSubstring(field))
				}
				Expect(string(do("GET", "/v1/tasks", "").Body)).To(Equal("[]\n"))
			},
			Entry("an unknown field at the top", set("colour", "red"), "InvalidJSON", `"colour"`),
			Entry("an unknown field in the action", set("action.run.colour", "red"), "InvalidJSON", `"colour"`),
			Entry("a wrong type in the action", set("action.run.path", 7), "InvalidJSON", "run action"),
			Entry("an unknown action kind", set("action", map[string]any{"exec": map[string]any{}}), "InvalidTask", "action"),
			Entry("an action with two keys", set("action", map[string]any{"run": map[string]any{"path": "/a"}, "upload": map[string]any{}}), "InvalidTask", "action"),
			Entry("a nested action with no key", set("action", map[string]any{"serial": map[string]any{"actions": []any{
				map[string]any{"run": map[string]any{"path": "/a"}}, map[string]any{}}}}), "InvalidTask", "action.serial.actions[1]"),
		)

		DescribeTable("a desired LRP update",
			func(body, name, field string) {
				Expect(do("POST", "/v1/desired_lrps", lrp2015).Status).To(Equal(http.StatusCreated))
				msg := expectError(do("PUT", "/v1/desired_lrps/legacy-app", body), http.StatusBadRequest, name)
				Expect(msg).To(ContainSubstring(field))
				Expect(decode[map[string]json.RawMessage](do("GET", "/v1/desired_lrps/legacy-app", ""))["instances"]).To(MatchJSON(`2`))
			},
			Entry("an unknown field", `{"instances":3,"colour":"red"}`, "InvalidRequest", "colour"),
			Entry("a wrong type", `{"instances":"3"}`, "InvalidJSON", "instances"),
			Entry("not an object", `[1]`, "InvalidJSON", "JSON"),
		)
	})

	Describe("GET /v1/health", func() {
		It("answers the store's health: writable, no alarms, its size against its quota", func() {
			resp := do("GET", "/v1/health", "")
			Expect(resp.Status).To(Equal(http.StatusOK))
			body := decode[map[string]map[string]any](resp)
			Expect(body["store"]).To(HaveKeyWithValue("writable", true))
			Expect(body["store"]).To(HaveKeyWithValue("alarms", BeEmpty()))
			Expect(body["store"]["db_size_bytes"]).To(BeNumerically(">", 0))
			Expect(body["store"]["quota_bytes"]).To(BeNumerically(">", body["store"]["db_size_bytes"]))
		})
	})

	Describe("GET /v1/version", func() {
		Context("with the version the build gave", func() {
			BeforeEach(func() { opts.Version = "v1.2.3-4-gabcdef" })

			It("answers it as diego_release", func() {
				resp := do("GET", "/v1/version", "")
				Expect(resp.Status).To(Equal(http.StatusOK))
				body := decode[map[string]string](resp)
				Expect(body).To(HaveKeyWithValue("diego_release", "v1.2.3-4-gabcdef"))
				Expect(body).To(HaveKeyWithValue("receptor", "v1.2.3-4-gabcdef"))
			})
		})

		It("answers the binary's own version when none is given", func() {
			body := decode[map[string]string](do("GET", "/v1/version", ""))
			Expect(body["diego_release"]).NotTo(BeEmpty())
			Expect(body["go_version"]).To(HavePrefix("go"))
		})
	})
})
