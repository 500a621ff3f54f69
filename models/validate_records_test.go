package models_test

import (
	"encoding/json"
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/models"
)

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
		It("accepts instances, routes and annotation, and the run definition's fields", func() {
			Expect(models.CheckDesiredLRPUpdateFields([]byte(`{"instances":3,"routes":{},"annotation":"a"}`))).To(Succeed())
			Expect(models.CheckDesiredLRPUpdateFields([]byte(`{}`))).To(Succeed())
			Expect(models.CheckDesiredLRPUpdateFields([]byte(`{"rootfs":"docker:///x","action":{},"setup":{},"env":[],
				"check_definition":{},"memory_mb":1,"disk_mb":1,"ports":[8080],"roll_policy":{}}`))).To(Succeed())
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
			Entry("privileged", `{"instances":3,"privileged":true}`, "privileged"),
			Entry("process_guid", `{"process_guid":"other"}`, "process_guid"),
			Entry("log_guid and domain, sorted", `{"log_guid":"x","domain":"d"}`, "domain", "log_guid"),
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
