package models_test

import (
	"encoding/json"
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

var _ = Describe("DesiredLRP.Validate", func() {
	It("accepts a complete, valid desired LRP", func() {
		Expect(validDesiredLRP().Validate()).To(Succeed())
	})

	It("accepts the smallest valid desired LRP", func() {
		d := &models.DesiredLRP{
			ProcessGuid: "p", Domain: "d", RootFS: "preloaded:x",
			Action: models.Run(models.RunAction{Path: "/bin/true"}),
		}
		Expect(d.Validate()).To(Succeed())
	})

	It("names every bad field at once", func() {
		d := validDesiredLRP()
		d.ProcessGuid = ""
		d.MemoryMB = -1
		d.Action.Codependent.Actions[0].Run.Path = ""
		Expect(fieldsOf(d.Validate())).To(ConsistOf("process_guid", "memory_mb", "action.codependent.actions[0].run.path"))
	})

	It("refuses an action tree deeper than MaxActionDepth without walking it all", func() {
		d := validDesiredLRP()
		d.Action = nestedTries(models.MaxActionDepth + 1)
		err := d.Validate()
		Expect(err).To(MatchError(ContainSubstring("deeper than 32")))
		Expect(fieldsOf(err)).To(HaveLen(1))
		Expect(fieldsOf(err)[0]).To(HavePrefix("action.try.action.try.action"))
	})

	It("stops at MaxActionDepth even on a cyclic tree built in Go", func() {
		d := validDesiredLRP()
		loop := models.Try(nil)
		loop.Try.Action = loop
		d.Action = loop
		Expect(d.Validate()).To(MatchError(ContainSubstring("deeper than")))
	})

	It("returns a plain nil, not a typed nil, when valid", func() {
		err := validDesiredLRP().Validate()
		Expect(err == nil).To(BeTrue())
	})

	DescribeTable("refuses a bad field, naming it",
		func(mutate func(d *models.DesiredLRP), field string) {
			d := validDesiredLRP()
			mutate(d)
			err := d.Validate()
			Expect(err).To(HaveOccurred())
			Expect(fieldsOf(err)).To(ContainElement(field))
		},
		Entry("process_guid missing", func(d *models.DesiredLRP) { d.ProcessGuid = "" }, "process_guid"),
		Entry("process_guid with a slash", func(d *models.DesiredLRP) { d.ProcessGuid = "a/b" }, "process_guid"),
		Entry("process_guid with a space", func(d *models.DesiredLRP) { d.ProcessGuid = "a b" }, "process_guid"),
		Entry("process_guid too long", func(d *models.DesiredLRP) { d.ProcessGuid = strings.Repeat("a", 129) }, "process_guid"),
		Entry("domain missing", func(d *models.DesiredLRP) { d.Domain = "" }, "domain"),
		Entry("domain with a slash", func(d *models.DesiredLRP) { d.Domain = "a/b" }, "domain"),
		Entry("instances negative", func(d *models.DesiredLRP) { d.Instances = -1 }, "instances"),
		Entry("rootfs missing", func(d *models.DesiredLRP) { d.RootFS = "" }, "rootfs"),
		Entry("rootfs unknown scheme", func(d *models.DesiredLRP) { d.RootFS = "http://example.com/img" }, "rootfs"),
		Entry("rootfs bad docker repo", func(d *models.DesiredLRP) { d.RootFS = "docker:///UPPER/case" }, "rootfs"),
		Entry("image_username without password", func(d *models.DesiredLRP) { d.ImageUsername = "u" }, "image_password"),
		Entry("image_password without username", func(d *models.DesiredLRP) { d.ImagePassword = "p" }, "image_username"),
		Entry("env name empty", func(d *models.DesiredLRP) { d.Env = append(d.Env, models.EnvVar{Value: "x"}) }, "env[1].name"),
		Entry("env name with '='", func(d *models.DesiredLRP) { d.Env[0].Name = "A=B" }, "env[0].name"),
		Entry("action missing", func(d *models.DesiredLRP) { d.Action = nil }, "action"),
		Entry("action with no kind", func(d *models.DesiredLRP) { d.Action = &models.Action{} }, "action"),
		Entry("action with two kinds", func(d *models.DesiredLRP) {
			d.Action = &models.Action{Run: &models.RunAction{Path: "/a"}, Try: &models.TryAction{Action: models.Run(models.RunAction{Path: "/b"})}}
		}, "action"),
		Entry("nested action with two kinds", func(d *models.DesiredLRP) {
			d.Action = models.Serial(models.Run(models.RunAction{Path: "/a"}), &models.Action{Run: &models.RunAction{Path: "/a"}, Upload: &models.UploadAction{From: "a", To: "http://x"}})
		}, "action.serial.actions[1]"),
		Entry("run.path missing", func(d *models.DesiredLRP) { d.Action = models.Run(models.RunAction{}) }, "action.run.path"),
		Entry("nested run.path missing", func(d *models.DesiredLRP) {
			d.Action = models.Serial(models.Run(models.RunAction{Path: "/a"}), models.Run(models.RunAction{}))
		}, "action.serial.actions[1].run.path"),
		Entry("run env name empty", func(d *models.DesiredLRP) {
			d.Action = models.Run(models.RunAction{Path: "/a", Env: []models.EnvVar{{Value: "v"}}})
		}, "action.run.env[0].name"),
		Entry("download.from missing", func(d *models.DesiredLRP) {
			d.Action = models.Download(models.DownloadAction{To: "/x"})
		}, "action.download.from"),
		Entry("download.from not a URL", func(d *models.DesiredLRP) {
			d.Action = models.Download(models.DownloadAction{From: "::nope", To: "/x"})
		}, "action.download.from"),
		Entry("download.from not http", func(d *models.DesiredLRP) {
			d.Action = models.Download(models.DownloadAction{From: "ftp://host/x.tgz", To: "/x"})
		}, "action.download.from"),
		Entry("download.from relative", func(d *models.DesiredLRP) {
			d.Action = models.Download(models.DownloadAction{From: "/x.tgz", To: "/x"})
		}, "action.download.from"),
		Entry("download.to missing", func(d *models.DesiredLRP) {
			d.Action = models.Download(models.DownloadAction{From: "http://h/x"})
		}, "action.download.to"),
		Entry("checksum_algorithm without value", func(d *models.DesiredLRP) { d.Setup.Download.ChecksumValue = "" }, "setup.download.checksum_value"),
		Entry("checksum_value without algorithm", func(d *models.DesiredLRP) { d.Setup.Download.ChecksumAlgorithm = "" }, "setup.download.checksum_algorithm"),
		Entry("checksum_algorithm unknown", func(d *models.DesiredLRP) { d.Setup.Download.ChecksumAlgorithm = "crc32" }, "setup.download.checksum_algorithm"),
		Entry("checksum_value of the wrong length", func(d *models.DesiredLRP) { d.Setup.Download.ChecksumAlgorithm = "md5" }, "setup.download.checksum_value"),
		Entry("checksum_value not hex", func(d *models.DesiredLRP) {
			d.Setup.Download.ChecksumAlgorithm, d.Setup.Download.ChecksumValue = "md5", strings.Repeat("z", 32)
		}, "setup.download.checksum_value"),
		Entry("upload.from missing", func(d *models.DesiredLRP) {
			d.Action = models.Upload(models.UploadAction{To: "http://h/x"})
		}, "action.upload.from"),
		Entry("upload.to missing", func(d *models.DesiredLRP) {
			d.Action = models.Upload(models.UploadAction{From: "/x"})
		}, "action.upload.to"),
		Entry("upload.to not an http URL", func(d *models.DesiredLRP) {
			d.Action = models.Upload(models.UploadAction{From: "/x", To: "file:///x"})
		}, "action.upload.to"),
		Entry("timeout.timeout zero", func(d *models.DesiredLRP) { d.Monitor.Timeout.Timeout = 0 }, "monitor.timeout.timeout"),
		Entry("timeout.timeout negative", func(d *models.DesiredLRP) { d.Monitor.Timeout.Timeout = -5 }, "monitor.timeout.timeout"),
		Entry("timeout.action missing", func(d *models.DesiredLRP) { d.Monitor.Timeout.Action = nil }, "monitor.timeout.action"),
		Entry("try.action missing", func(d *models.DesiredLRP) { d.Action = models.Try(nil) }, "action.try.action"),
		Entry("emit_progress.action missing", func(d *models.DesiredLRP) {
			d.Action = models.EmitProgress(nil, "a", "b", "c")
		}, "action.emit_progress.action"),
		Entry("parallel.actions empty", func(d *models.DesiredLRP) { d.Action = models.Parallel() }, "action.parallel.actions"),
		Entry("serial.actions empty", func(d *models.DesiredLRP) { d.Action = models.Serial() }, "action.serial.actions"),
		Entry("codependent.actions empty", func(d *models.DesiredLRP) { d.Action = models.Codependent() }, "action.codependent.actions"),
		Entry("codependent.actions holding nil", func(d *models.DesiredLRP) { d.Action = models.Codependent(nil) }, "action.codependent.actions[0]"),
		Entry("deep nesting names the whole path", func(d *models.DesiredLRP) {
			d.Action = models.Try(models.Timeout(models.Parallel(models.Run(models.RunAction{Path: "/a"}), models.Serial(models.Upload(models.UploadAction{To: "http://h"}))), 1e9))
		}, "action.try.action.timeout.action.parallel.actions[1].serial.actions[0].upload.from"),
		Entry("setup invalid", func(d *models.DesiredLRP) { d.Setup = models.Run(models.RunAction{}) }, "setup.run.path"),
		Entry("monitor invalid", func(d *models.DesiredLRP) { d.Monitor = models.Run(models.RunAction{}) }, "monitor.run.path"),
		Entry("check with neither kind", func(d *models.DesiredLRP) { d.CheckDefinition.Checks[0] = models.Check{} }, "check_definition.checks[0]"),
		Entry("check with both kinds", func(d *models.DesiredLRP) {
			d.CheckDefinition.Checks[0].HTTPCheck = &models.HTTPCheck{Port: 80}
		}, "check_definition.checks[0]"),
		Entry("tcp_check port 0", func(d *models.DesiredLRP) { d.CheckDefinition.Checks[0].TCPCheck.Port = 0 }, "check_definition.checks[0].tcp_check.port"),
		Entry("tcp_check port 65536", func(d *models.DesiredLRP) { d.CheckDefinition.Checks[0].TCPCheck.Port = 65536 }, "check_definition.checks[0].tcp_check.port"),
		Entry("tcp_check connect_timeout_ms negative", func(d *models.DesiredLRP) {
			d.CheckDefinition.Checks[0].TCPCheck.ConnectTimeoutMs = -1
		}, "check_definition.checks[0].tcp_check.connect_timeout_ms"),
		Entry("tcp_check interval_ms negative", func(d *models.DesiredLRP) {
			d.CheckDefinition.Checks[0].TCPCheck.IntervalMs = -1
		}, "check_definition.checks[0].tcp_check.interval_ms"),
		Entry("http_check port 0", func(d *models.DesiredLRP) {
			d.CheckDefinition.ReadinessChecks[0].HTTPCheck.Port = 0
		}, "check_definition.readiness_checks[0].http_check.port"),
		Entry("http_check path relative", func(d *models.DesiredLRP) {
			d.CheckDefinition.ReadinessChecks[0].HTTPCheck.Path = "ready"
		}, "check_definition.readiness_checks[0].http_check.path"),
		Entry("http_check request_timeout_ms negative", func(d *models.DesiredLRP) {
			d.CheckDefinition.ReadinessChecks[0].HTTPCheck.RequestTimeoutMs = -1
		}, "check_definition.readiness_checks[0].http_check.request_timeout_ms"),
		Entry("http_check interval_ms negative", func(d *models.DesiredLRP) {
			d.CheckDefinition.ReadinessChecks[0].HTTPCheck.IntervalMs = -1
		}, "check_definition.readiness_checks[0].http_check.interval_ms"),
		Entry("memory_mb negative", func(d *models.DesiredLRP) { d.MemoryMB = -1 }, "memory_mb"),
		Entry("disk_mb negative", func(d *models.DesiredLRP) { d.DiskMB = -1 }, "disk_mb"),
		Entry("max_pids negative", func(d *models.DesiredLRP) { d.MaxPids = -1 }, "max_pids"),
		Entry("cpu_weight negative", func(d *models.DesiredLRP) { d.CPUWeight = -1 }, "cpu_weight"),
		Entry("cpu_weight over 100", func(d *models.DesiredLRP) { d.CPUWeight = 101 }, "cpu_weight"),
		Entry("port 0", func(d *models.DesiredLRP) { d.Ports = []uint32{0} }, "ports[0]"),
		Entry("port 65536", func(d *models.DesiredLRP) { d.Ports = []uint32{8080, 65536} }, "ports[1]"),
		Entry("annotation over 10 KiB", func(d *models.DesiredLRP) { d.Annotation = strings.Repeat("a", 10241) }, "annotation"),
		Entry("routes over 128 KiB", func(d *models.DesiredLRP) {
			d.Routes["big"] = json.RawMessage(`"` + strings.Repeat("r", 128*1024) + `"`)
		}, "routes"),
		Entry("routes value not JSON", func(d *models.DesiredLRP) { d.Routes["bad"] = json.RawMessage(`{`) }, "routes"),
		Entry("cf-router not a list", func(d *models.DesiredLRP) {
			d.Routes[models.CFRouterKey] = json.RawMessage(`{"hostnames":["a"]}`)
		}, "routes.cf-router"),
		Entry("cf-router port of the wrong type", func(d *models.DesiredLRP) {
			d.Routes[models.CFRouterKey] = json.RawMessage(`[{"hostnames":["a"],"port":"80"}]`)
		}, "routes.cf-router"),
		Entry("cf-router port 0", func(d *models.DesiredLRP) {
			d.Routes[models.CFRouterKey] = json.RawMessage(`[{"hostnames":["a"],"port":0}]`)
		}, "routes.cf-router[0].port"),
		Entry("cf-router without hostnames", func(d *models.DesiredLRP) {
			d.Routes[models.CFRouterKey] = json.RawMessage(`[{"hostnames":[],"port":8080}]`)
		}, "routes.cf-router[0].hostnames"),
		Entry("cf-router with an empty hostname", func(d *models.DesiredLRP) {
			d.Routes[models.CFRouterKey] = json.RawMessage(`[{"hostnames":["a",""],"port":8080}]`)
		}, "routes.cf-router[0].hostnames[1]"),
		Entry("placement tag empty", func(d *models.DesiredLRP) { d.PlacementTags = []string{""} }, "placement_tags[0]"),
		Entry("egress protocol unknown", func(d *models.DesiredLRP) { d.EgressRules[0].Protocol = "sctp" }, "egress_rules[0].protocol"),
		Entry("egress protocol missing", func(d *models.DesiredLRP) { d.EgressRules[1].Protocol = "" }, "egress_rules[1].protocol"),
		Entry("egress without destinations", func(d *models.DesiredLRP) { d.EgressRules[0].Destinations = nil }, "egress_rules[0].destinations"),
		Entry("egress destination not an address", func(d *models.DesiredLRP) {
			d.EgressRules[0].Destinations = []string{"example.com"}
		}, "egress_rules[0].destinations[0]"),
		Entry("egress range mixing families", func(d *models.DesiredLRP) {
			d.EgressRules[0].Destinations = []string{"10.0.0.1-::1"}
		}, "egress_rules[0].destinations[0]"),
		Entry("egress ports on icmp", func(d *models.DesiredLRP) { d.EgressRules[0].Protocol = "icmp" }, "egress_rules[0].ports"),
		Entry("egress port 0", func(d *models.DesiredLRP) { d.EgressRules[0].Ports = []uint16{0} }, "egress_rules[0].ports[0]"),
		Entry("egress port_range backwards", func(d *models.DesiredLRP) {
			d.EgressRules[0].Ports, d.EgressRules[0].PortRange = nil, &models.PortRange{Start: 90, End: 80}
		}, "egress_rules[0].port_range"),
		Entry("egress ports and port_range together", func(d *models.DesiredLRP) {
			d.EgressRules[0].PortRange = &models.PortRange{Start: 80, End: 90}
		}, "egress_rules[0].port_range"),
		Entry("restart_policy immediate_restarts negative", func(d *models.DesiredLRP) {
			d.RestartPolicy.ImmediateRestarts = -1
		}, "restart_policy.immediate_restarts"),
		Entry("restart_policy base_backoff_ms zero", func(d *models.DesiredLRP) {
			d.RestartPolicy.BaseBackoffMs = 0
		}, "restart_policy.base_backoff_ms"),
		Entry("restart_policy max_backoff_ms below base", func(d *models.DesiredLRP) {
			d.RestartPolicy.MaxBackoffMs = 10
		}, "restart_policy.max_backoff_ms"),
		Entry("restart_policy max_restarts negative", func(d *models.DesiredLRP) {
			d.RestartPolicy.MaxRestarts = -1
		}, "restart_policy.max_restarts"),
		Entry("restart_policy reset_after_ms negative", func(d *models.DesiredLRP) {
			d.RestartPolicy.ResetAfterMs = -1
		}, "restart_policy.reset_after_ms"),
	)

	DescribeTable("accepts values at the edge of each rule",
		func(mutate func(d *models.DesiredLRP)) {
			d := validDesiredLRP()
			mutate(d)
			Expect(d.Validate()).To(Succeed())
		},
		Entry("zero instances", func(d *models.DesiredLRP) { d.Instances = 0 }),
		Entry("process_guid of 128 characters", func(d *models.DesiredLRP) { d.ProcessGuid = strings.Repeat("a", 128) }),
		Entry("docker:///repo#tag", func(d *models.DesiredLRP) { d.RootFS = "docker:///library/nginx#1.27" }),
		Entry("docker:///repo without tag", func(d *models.DesiredLRP) { d.RootFS = "docker:///busybox" }),
		Entry("docker://host:port/repo#tag", func(d *models.DesiredLRP) { d.RootFS = "docker://registry.local:5000/team/app#v2" }),
		Entry("docker://host/repo without tag", func(d *models.DesiredLRP) { d.RootFS = "docker://127.0.0.1:5000/app" }),
		Entry("docker digest", func(d *models.DesiredLRP) {
			d.RootFS = "docker:///app#sha256:" + strings.Repeat("ab", 32)
		}),
		Entry("oci:///abs/path#tag", func(d *models.DesiredLRP) { d.RootFS = "oci:///var/images/app#latest" }),
		Entry("docker-archive:///abs/file.tar", func(d *models.DesiredLRP) { d.RootFS = "docker-archive:///tmp/app.tar" }),
		Entry("preloaded:name", func(d *models.DesiredLRP) { d.RootFS = "preloaded:cflinuxfs4" }),
		Entry("image credentials together", func(d *models.DesiredLRP) { d.ImageUsername, d.ImagePassword = "u", "p" }),
		Entry("cpu_weight 0", func(d *models.DesiredLRP) { d.CPUWeight = 0 }),
		Entry("cpu_weight 100", func(d *models.DesiredLRP) { d.CPUWeight = 100 }),
		Entry("zero resources (unlimited)", func(d *models.DesiredLRP) { d.MemoryMB, d.DiskMB, d.MaxPids = 0, 0, 0 }),
		Entry("port 65535", func(d *models.DesiredLRP) { d.Ports = []uint32{1, 65535} }),
		Entry("annotation of exactly 10 KiB", func(d *models.DesiredLRP) { d.Annotation = strings.Repeat("a", 10240) }),
		Entry("routes of exactly 128 KiB", func(d *models.DesiredLRP) {
			d.Routes = models.Routes{"r": nil}
			// {"r":"..."} is 8 bytes plus the string.
			d.Routes["r"] = json.RawMessage(`"` + strings.Repeat("r", 128*1024-8) + `"`)
			b, _ := json.Marshal(d.Routes)
			Expect(b).To(HaveLen(128 * 1024))
		}),
		Entry("no routes", func(d *models.DesiredLRP) { d.Routes = nil }),
		Entry("routes without cf-router", func(d *models.DesiredLRP) { delete(d.Routes, models.CFRouterKey) }),
		Entry("an empty cf-router list", func(d *models.DesiredLRP) { d.Routes[models.CFRouterKey] = json.RawMessage(`[]`) }),
		Entry("egress to an IPv6 CIDR over udp with a port range", func(d *models.DesiredLRP) {
			d.EgressRules = []models.SecurityGroupRule{{Protocol: "udp", Destinations: []string{"fd00::/8"}, PortRange: &models.PortRange{Start: 53, End: 53}}}
		}),
		Entry("no restart policy", func(d *models.DesiredLRP) { d.RestartPolicy = nil }),
		Entry("a restart policy with no immediate restarts", func(d *models.DesiredLRP) { d.RestartPolicy.ImmediateRestarts = 0 }),
		Entry("an action tree exactly MaxActionDepth deep", func(d *models.DesiredLRP) {
			d.Action = nestedTries(models.MaxActionDepth)
		}),
	)
})

var _ = Describe("Task validation", func() {
	It("accepts a valid task", func() {
		Expect(validTask().Validate()).To(Succeed())
		t := validTask()
		Expect(models.ValidateTask(t.TaskGuid, t.Domain, &t.TaskDefinition)).To(Succeed())
		Expect(t.TaskDefinition.Validate()).To(Succeed())
	})

	It("refuses a missing definition", func() {
		Expect(fieldsOf(models.ValidateTask("t", "d", nil))).To(ConsistOf("action"))
	})

	DescribeTable("refuses a bad field, naming it",
		func(mutate func(t *models.Task), field string) {
			t := validTask()
			mutate(t)
			Expect(fieldsOf(t.Validate())).To(ContainElement(field))
			Expect(fieldsOf(models.ValidateTask(t.TaskGuid, t.Domain, &t.TaskDefinition))).To(ContainElement(field))
		},
		Entry("task_guid missing", func(t *models.Task) { t.TaskGuid = "" }, "task_guid"),
		Entry("task_guid with a dot", func(t *models.Task) { t.TaskGuid = "a.b" }, "task_guid"),
		Entry("task_guid too long", func(t *models.Task) { t.TaskGuid = strings.Repeat("t", 129) }, "task_guid"),
		Entry("domain missing", func(t *models.Task) { t.Domain = "" }, "domain"),
		Entry("rootfs missing", func(t *models.Task) { t.RootFS = "" }, "rootfs"),
		Entry("rootfs unknown scheme", func(t *models.Task) { t.RootFS = "s3://bucket/img" }, "rootfs"),
		Entry("image_username alone", func(t *models.Task) { t.ImageUsername = "u" }, "image_password"),
		Entry("env name empty", func(t *models.Task) { t.Env = []models.EnvVar{{}} }, "env[0].name"),
		Entry("action missing", func(t *models.Task) { t.Action = nil }, "action"),
		Entry("nested action bad", func(t *models.Task) { t.Action.Serial.Actions[1].EmitProgress.Action.Run.Path = "" }, "action.serial.actions[1].emit_progress.action.run.path"),
		Entry("memory_mb negative", func(t *models.Task) { t.MemoryMB = -1 }, "memory_mb"),
		Entry("disk_mb negative", func(t *models.Task) { t.DiskMB = -1 }, "disk_mb"),
		Entry("max_pids negative", func(t *models.Task) { t.MaxPids = -1 }, "max_pids"),
		Entry("cpu_weight over 100", func(t *models.Task) { t.CPUWeight = 200 }, "cpu_weight"),
		Entry("result_file relative", func(t *models.Task) { t.ResultFile = "result.txt" }, "result_file"),
		Entry("completion_callback_url unparseable", func(t *models.Task) { t.CompletionCallbackURL = "http://[::1" }, "completion_callback_url"),
		Entry("completion_callback_url relative", func(t *models.Task) { t.CompletionCallbackURL = "/callback" }, "completion_callback_url"),
		Entry("completion_callback_url not http", func(t *models.Task) { t.CompletionCallbackURL = "mailto:a@b" }, "completion_callback_url"),
		Entry("completion_callback_url without host", func(t *models.Task) { t.CompletionCallbackURL = "http:///x" }, "completion_callback_url"),
		Entry("annotation over 10 KiB", func(t *models.Task) { t.Annotation = strings.Repeat("x", 10241) }, "annotation"),
		Entry("placement tag empty", func(t *models.Task) { t.PlacementTags = []string{"a", ""} }, "placement_tags[1]"),
		Entry("egress protocol unknown", func(t *models.Task) {
			t.EgressRules = []models.SecurityGroupRule{{Protocol: "gre", Destinations: []string{"1.2.3.4"}}}
		}, "egress_rules[0].protocol"),
	)

	It("refuses an unknown state on a task record", func() {
		t := validTask()
		t.State = "DONE"
		Expect(fieldsOf(t.Validate())).To(ConsistOf("state"))
	})
})

var _ = Describe("DesiredLRPUpdate", func() {
	intp := func(i int) *int { return &i }
	strp := func(s string) *string { return &s }

	It("accepts an empty update and each field alone", func() {
		routes := models.Routes{models.CFRouterKey: json.RawMessage(`[{"hostnames":["a.example.com"],"port":80}]`)}
		for _, u := range []models.DesiredLRPUpdate{{}, {Instances: intp(0)}, {Routes: &routes}, {Annotation: strp("x")}} {
			Expect(u.Validate()).To(Succeed())
		}
	})

	DescribeTable("refuses a bad field, naming it",
		func(u models.DesiredLRPUpdate, field string) {
			Expect(fieldsOf(u.Validate())).To(ConsistOf(field))
		},
		Entry("instances negative", models.DesiredLRPUpdate{Instances: intp(-1)}, "instances"),
		Entry("annotation over 10 KiB", models.DesiredLRPUpdate{Annotation: strp(strings.Repeat("a", 10241))}, "annotation"),
		Entry("routes over 128 KiB", models.DesiredLRPUpdate{Routes: &models.Routes{"x": json.RawMessage(`"` + strings.Repeat("a", 131072) + `"`)}}, "routes"),
		Entry("cf-router not a list", models.DesiredLRPUpdate{Routes: &models.Routes{models.CFRouterKey: json.RawMessage(`7`)}}, "routes.cf-router"),
	)

	It("applies only the fields it names", func() {
		d := validDesiredLRP()
		u := models.DesiredLRPUpdate{Instances: intp(7)}
		out := u.Apply(*d)
		Expect(out.Instances).To(Equal(7))
		Expect(out.Annotation).To(Equal(d.Annotation))
		Expect(out.Routes).To(Equal(d.Routes))
		Expect(d.Instances).To(Equal(2), "the original is untouched")
	})

	Describe("CheckDesiredLRPUpdateFields", func() {
		It("accepts instances, routes and annotation", func() {
			Expect(models.CheckDesiredLRPUpdateFields([]byte(`{"instances":3,"routes":{},"annotation":"a"}`))).To(Succeed())
			Expect(models.CheckDesiredLRPUpdateFields([]byte(`{}`))).To(Succeed())
		})

		DescribeTable("refuses a field that cannot change, naming it",
			func(body string, fields ...string) {
				err := models.CheckDesiredLRPUpdateFields([]byte(body))
				Expect(errors.Is(err, models.ErrInvalidRequest)).To(BeTrue(), "got %v", err)
				Expect(fieldsOf(err)).To(Equal(fields))
				for _, f := range fields {
					Expect(err.Error()).To(ContainSubstring(f))
				}
			},
			Entry("rootfs", `{"instances":3,"rootfs":"docker:///x"}`, "rootfs"),
			Entry("process_guid", `{"process_guid":"other"}`, "process_guid"),
			Entry("memory_mb and action, sorted", `{"memory_mb":1,"action":{}}`, "action", "memory_mb"),
			Entry("a misspelt field", `{"instance":3}`, "instance"),
			Entry("a differently cased field", `{"Instances":3}`, "Instances"),
		)

		DescribeTable("refuses a body that is not a JSON object as InvalidJSON",
			func(body string) {
				Expect(models.CheckDesiredLRPUpdateFields([]byte(body))).To(MatchError(models.ErrInvalidJSON))
			},
			Entry("a list", `[]`),
			Entry("a string", `"instances"`),
			Entry("broken JSON", `{"instances":`),
			Entry("null", `null`),
			Entry("nothing", ``),
		)
	})
})

var _ = Describe("Other records", func() {
	DescribeTable("ValidateDomain",
		func(name string, ok bool) {
			err := models.ValidateDomain(name)
			if ok {
				Expect(err).NotTo(HaveOccurred())
			} else {
				Expect(fieldsOf(err)).To(ConsistOf("domain"))
			}
		},
		Entry("simple", "cf-apps", true),
		Entry("dotted", "apps.example.com", true),
		Entry("empty", "", false),
		Entry("with a slash", "a/b", false),
		Entry("with a space", "a b", false),
		Entry("too long", strings.Repeat("d", 256), false),
	)

	It("validates a domain record's ttl", func() {
		Expect((&models.Domain{Name: "d", TTLSeconds: 0}).Validate()).To(Succeed())
		Expect(fieldsOf((&models.Domain{Name: "d", TTLSeconds: -1}).Validate())).To(ConsistOf("ttl_seconds"))
	})

	DescribeTable("CellPresence.Validate",
		func(mutate func(c *models.CellPresence), field string) {
			c := &models.CellPresence{
				CellID: "cell-z1.0", RepAddress: "http://127.0.0.1:1800", Zone: "z1",
				Capacity:        models.CellCapacity{MemoryMB: 1024, DiskMB: 2048, Containers: 250},
				RootFSProviders: models.RootFSProviders{"docker": nil},
			}
			mutate(c)
			if field == "" {
				Expect(c.Validate()).To(Succeed())
			} else {
				Expect(fieldsOf(c.Validate())).To(ConsistOf(field))
			}
		},
		Entry("valid", func(c *models.CellPresence) {}, ""),
		Entry("host:port rep address", func(c *models.CellPresence) { c.RepAddress = "10.0.0.1:1800" }, ""),
		Entry("cell_id missing", func(c *models.CellPresence) { c.CellID = "" }, "cell_id"),
		Entry("cell_id with a slash", func(c *models.CellPresence) { c.CellID = "a/b" }, "cell_id"),
		Entry("rep_address missing", func(c *models.CellPresence) { c.RepAddress = "" }, "rep_address"),
		Entry("rep_address without port", func(c *models.CellPresence) { c.RepAddress = "localhost" }, "rep_address"),
		Entry("rep_url not http", func(c *models.CellPresence) { c.RepURL = "ftp://x" }, "rep_url"),
		Entry("memory negative", func(c *models.CellPresence) { c.Capacity.MemoryMB = -1 }, "capacity.memory_mb"),
		Entry("disk negative", func(c *models.CellPresence) { c.Capacity.DiskMB = -1 }, "capacity.disk_mb"),
		Entry("containers negative", func(c *models.CellPresence) { c.Capacity.Containers = -1 }, "capacity.containers"),
		Entry("empty provider name", func(c *models.CellPresence) { c.RootFSProviders[""] = nil }, "rootfs_providers"),
		Entry("empty placement tag", func(c *models.CellPresence) { c.PlacementTags = []string{""} }, "placement_tags[0]"),
		Entry("empty optional placement tag", func(c *models.CellPresence) { c.OptionalPlacementTags = []string{""} }, "optional_placement_tags[0]"),
	)

	DescribeTable("ActualLRPKey.Validate",
		func(k models.ActualLRPKey, field string) {
			if field == "" {
				Expect(k.Validate()).To(Succeed())
			} else {
				Expect(fieldsOf(k.Validate())).To(ConsistOf(field))
			}
		},
		Entry("valid", models.ActualLRPKey{ProcessGuid: "p", Index: 0, Domain: "d"}, ""),
		Entry("process_guid missing", models.ActualLRPKey{Index: 0, Domain: "d"}, "process_guid"),
		Entry("index negative", models.ActualLRPKey{ProcessGuid: "p", Index: -1, Domain: "d"}, "index"),
		Entry("domain missing", models.ActualLRPKey{ProcessGuid: "p"}, "domain"),
	)

	It("checks an instance key names both parts", func() {
		Expect((&models.ActualLRPInstanceKey{InstanceGuid: "i", CellID: "c"}).Validate()).To(Succeed())
		Expect(fieldsOf((&models.ActualLRPInstanceKey{InstanceGuid: "i"}).Validate())).To(ConsistOf("cell_id"))
		Expect(fieldsOf((&models.ActualLRPInstanceKey{CellID: "c"}).Validate())).To(ConsistOf("instance_guid"))
	})

	DescribeTable("ActualLRP.Validate",
		func(mutate func(a *models.ActualLRP), field string) {
			a := &models.ActualLRP{
				ActualLRPKey:         models.ActualLRPKey{ProcessGuid: "p", Index: 1, Domain: "d"},
				ActualLRPInstanceKey: models.ActualLRPInstanceKey{InstanceGuid: "i", CellID: "c"},
				State:                models.ActualLRPStateRunning,
				Presence:             models.PresenceOrdinary,
			}
			mutate(a)
			if field == "" {
				Expect(a.Validate()).To(Succeed())
			} else {
				Expect(fieldsOf(a.Validate())).To(ConsistOf(field))
			}
		},
		Entry("valid RUNNING", func(a *models.ActualLRP) {}, ""),
		Entry("valid UNCLAIMED", func(a *models.ActualLRP) {
			a.State, a.ActualLRPInstanceKey = models.ActualLRPStateUnclaimed, models.ActualLRPInstanceKey{}
		}, ""),
		Entry("unknown state", func(a *models.ActualLRP) { a.State = "STOPPED" }, "state"),
		Entry("unknown presence", func(a *models.ActualLRP) { a.Presence = "GONE" }, "presence"),
		Entry("CLAIMED without cell", func(a *models.ActualLRP) {
			a.State, a.CellID = models.ActualLRPStateClaimed, ""
		}, "cell_id"),
		Entry("CRASHED still holding an instance", func(a *models.ActualLRP) { a.State = models.ActualLRPStateCrashed }, "instance_guid"),
		Entry("crash_count negative", func(a *models.ActualLRP) { a.CrashCount = -1 }, "crash_count"),
		Entry("container port 0", func(a *models.ActualLRP) { a.Ports = []models.PortMapping{{HostPort: 1}} }, "ports[0].container_port"),
	)

	It("validates a restart policy on its own", func() {
		p := models.DefaultRestartPolicy()
		Expect(p.Validate()).To(Succeed())
		p.MaxBackoffMs = 1
		Expect(fieldsOf(p.Validate())).To(ConsistOf("max_backoff_ms"))
	})
})

var _ = Describe("Invalid", func() {
	It("turns a ValidationError into the wire error, keeping the fields", func() {
		d := validDesiredLRP()
		d.ProcessGuid = ""
		err := models.Invalid(models.ErrInvalidLRP, d.Validate())
		Expect(errors.Is(err, models.ErrInvalidLRP)).To(BeTrue())
		Expect(fieldsOf(err)).To(ConsistOf("process_guid"))
		wire := models.AsError(err)
		Expect(wire.Name).To(Equal("InvalidLRP"))
		Expect(wire.Status).To(Equal(400))
		Expect(wire.Message).To(ContainSubstring("process_guid: is required"))
	})

	It("gives nil for nil", func() {
		Expect(models.Invalid(models.ErrInvalidLRP, nil)).To(BeNil())
	})
})
