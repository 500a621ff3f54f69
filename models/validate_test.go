package models_test

import (
	"encoding/json"
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
