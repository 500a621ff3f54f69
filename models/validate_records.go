package models

import (
	"net"
	"net/url"
	"strings"
)

// Validate checks everything a client sends in a desired LRP (DESIGN 5). The
// error is a ValidationError naming every bad field by its JSON path.
func (d *DesiredLRP) Validate() error {
	var v validator
	v.guid("process_guid", d.ProcessGuid)
	v.domain("domain", d.Domain)
	v.nonNegative("instances", int64(d.Instances))
	v.rootfs("rootfs", d.RootFS)
	v.imageCredentials(d.ImageUsername, d.ImagePassword)
	v.env("env", d.Env)
	if d.Setup != nil {
		v.action("setup", d.Setup, 1)
	}
	v.requiredAction("action", d.Action, 1)
	if d.Monitor != nil {
		v.action("monitor", d.Monitor, 1)
	}
	v.checkDefinition("check_definition", d.CheckDefinition)
	v.resources(d.MemoryMB, d.DiskMB, d.MaxPids, d.CPUWeight)
	for i, p := range d.Ports {
		if p == 0 || p > 65535 {
			v.add(at("ports", i), "must be between 1 and 65535")
		}
	}
	v.routes("routes", d.Routes)
	v.annotation("annotation", d.Annotation)
	v.placementTags("placement_tags", d.PlacementTags)
	v.egressRules("egress_rules", d.EgressRules)
	v.restartPolicy("restart_policy", d.RestartPolicy)
	v.rollPolicy("roll_policy", d.RollPolicy)
	return v.result()
}

// Validate checks a PUT /v1/desired_lrps/:guid body once decoded. Use
// CheckDesiredLRPUpdateFields on the raw body to refuse immutable fields.
func (u *DesiredLRPUpdate) Validate() error {
	var v validator
	if u.Instances != nil {
		v.nonNegative("instances", int64(*u.Instances))
	}
	if u.Routes != nil {
		v.routes("routes", *u.Routes)
	}
	if u.Annotation != nil {
		v.annotation("annotation", *u.Annotation)
	}
	if u.RootFS != nil {
		v.rootfs("rootfs", *u.RootFS)
	}
	if u.Env != nil {
		v.env("env", *u.Env)
	}
	if u.Setup != nil {
		v.action("setup", u.Setup, 1)
	}
	if u.Action != nil {
		v.requiredAction("action", u.Action, 1)
	}
	if u.Monitor != nil {
		v.action("monitor", u.Monitor, 1)
	}
	v.checkDefinition("check_definition", u.CheckDefinition)
	if u.MemoryMB != nil {
		v.nonNegative("memory_mb", int64(*u.MemoryMB))
	}
	if u.DiskMB != nil {
		v.nonNegative("disk_mb", int64(*u.DiskMB))
	}
	if u.Ports != nil {
		for i, p := range *u.Ports {
			if p == 0 || p > 65535 {
				v.add(at("ports", i), "must be between 1 and 65535")
			}
		}
	}
	v.rollPolicy("roll_policy", u.RollPolicy)
	return v.result()
}

// ChangesRun reports whether the update names a field of the run definition
// (see DesiredLRP.RunVersion), so that applying it may need a roll.
func (u *DesiredLRPUpdate) ChangesRun() bool {
	return u.RootFS != nil || u.ImageUsername != nil || u.ImagePassword != nil || u.Env != nil ||
		u.Setup != nil || u.Action != nil || u.Monitor != nil || u.CheckDefinition != nil ||
		u.StartTimeout != nil || u.MemoryMB != nil || u.DiskMB != nil || u.Ports != nil
}

// Apply returns a copy of d with the update's non-nil fields written in. It
// does not touch the modification tag; the store does.
func (u *DesiredLRPUpdate) Apply(d DesiredLRP) DesiredLRP {
	if u.Instances != nil {
		d.Instances = *u.Instances
	}
	if u.Routes != nil {
		d.Routes = *u.Routes
	}
	if u.Annotation != nil {
		d.Annotation = *u.Annotation
	}
	set(&d.RootFS, u.RootFS)
	set(&d.ImageUsername, u.ImageUsername)
	set(&d.ImagePassword, u.ImagePassword)
	set(&d.Env, u.Env)
	set(&d.StartTimeout, u.StartTimeout)
	set(&d.MemoryMB, u.MemoryMB)
	set(&d.DiskMB, u.DiskMB)
	set(&d.Ports, u.Ports)
	if u.Setup != nil {
		d.Setup = u.Setup
	}
	if u.Action != nil {
		d.Action = u.Action
	}
	if u.Monitor != nil {
		d.Monitor = u.Monitor
	}
	if u.CheckDefinition != nil {
		d.CheckDefinition = u.CheckDefinition
	}
	if u.RollPolicy != nil {
		d.RollPolicy = u.RollPolicy
	}
	return d
}

// set writes *v into *dst when v is not nil.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Validate checks a health check list; fields are named relative to it
// ("checks[0].tcp_check.port").
func (c *CheckDefinition) Validate() error {
	var v validator
	v.checkDefinition("", c)
	return v.result()
}

func (v *validator) checkDefinition(prefix string, c *CheckDefinition) {
	if c == nil {
		return
	}
	for i, ch := range c.Checks {
		v.check(at(join(prefix, "checks"), i), ch)
	}
	for i, ch := range c.ReadinessChecks {
		v.check(at(join(prefix, "readiness_checks"), i), ch)
	}
}

func (v *validator) check(p string, c Check) {
	switch {
	case c.TCPCheck == nil && c.HTTPCheck == nil:
		v.add(p, "must have one of tcp_check or http_check")
	case c.TCPCheck != nil && c.HTTPCheck != nil:
		v.add(p, "must have only one of tcp_check or http_check")
	case c.TCPCheck != nil:
		t := c.TCPCheck
		v.checkPort(join(p, "tcp_check.port"), t.Port)
		v.nonNegative(join(p, "tcp_check.connect_timeout_ms"), t.ConnectTimeoutMs)
		v.nonNegative(join(p, "tcp_check.interval_ms"), t.IntervalMs)
	default:
		h := c.HTTPCheck
		v.checkPort(join(p, "http_check.port"), h.Port)
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			v.add(join(p, "http_check.path"), "must begin with '/'")
		}
		v.nonNegative(join(p, "http_check.request_timeout_ms"), h.RequestTimeoutMs)
		v.nonNegative(join(p, "http_check.interval_ms"), h.IntervalMs)
	}
}

func (v *validator) checkPort(field string, port uint32) {
	if port == 0 || port > 65535 {
		v.add(field, "must be between 1 and 65535")
	}
}

// Validate checks a task definition; fields are named as in a task.
func (t *TaskDefinition) Validate() error {
	var v validator
	v.taskDefinition(t)
	return v.result()
}

func (v *validator) taskDefinition(t *TaskDefinition) {
	v.rootfs("rootfs", t.RootFS)
	v.imageCredentials(t.ImageUsername, t.ImagePassword)
	v.env("env", t.Env)
	v.requiredAction("action", t.Action, 1)
	v.resources(t.MemoryMB, t.DiskMB, t.MaxPids, t.CPUWeight)
	if t.ResultFile != "" {
		v.absolutePath("result_file", t.ResultFile)
	}
	if t.CompletionCallbackURL != "" {
		v.httpURL("completion_callback_url", t.CompletionCallbackURL)
	}
	v.annotation("annotation", t.Annotation)
	v.placementTags("placement_tags", t.PlacementTags)
	v.egressRules("egress_rules", t.EgressRules)
}

// ValidateTask checks what POST /v1/tasks receives: a guid, a domain and a
// definition.
func ValidateTask(guid, domain string, def *TaskDefinition) error {
	var v validator
	v.guid("task_guid", guid)
	v.domain("domain", domain)
	if def == nil {
		v.add("action", "is required")
	} else {
		v.taskDefinition(def)
	}
	return v.result()
}

// Validate checks a task: its guid, domain and definition, and its state if
// one is set (a client submits a task without one).
func (t *Task) Validate() error {
	var v validator
	v.guid("task_guid", t.TaskGuid)
	v.domain("domain", t.Domain)
	v.taskDefinition(&t.TaskDefinition)
	switch t.State {
	case "", TaskStatePending, TaskStateRunning, TaskStateCompleted, TaskStateResolving:
	default:
		v.add("state", "must be one of PENDING, RUNNING, COMPLETED, RESOLVING")
	}
	v.nonNegative("rejection_count", int64(t.RejectionCount))
	return v.result()
}

// Validate checks an actual LRP's key.
func (k *ActualLRPKey) Validate() error {
	var v validator
	v.actualLRPKey(k)
	return v.result()
}

func (v *validator) actualLRPKey(k *ActualLRPKey) {
	v.guid("process_guid", k.ProcessGuid)
	v.nonNegative("index", int64(k.Index))
	v.domain("domain", k.Domain)
}

// Validate checks that an instance key names both its instance and its cell.
func (k *ActualLRPInstanceKey) Validate() error {
	var v validator
	v.instanceKey(k)
	return v.result()
}

func (v *validator) instanceKey(k *ActualLRPInstanceKey) {
	v.guid("instance_guid", k.InstanceGuid)
	v.cellID("cell_id", k.CellID)
}

// cellID is like a guid but may also hold '.', as host names do.
func (v *validator) cellID(field, id string) {
	switch {
	case id == "":
		v.add(field, "is required")
	case len(id) > MaxGuidLength:
		v.add(field, "is longer than %d characters", MaxGuidLength)
	case !cellIDPattern.MatchString(id):
		v.add(field, "may contain only letters, digits, '_', '-' and '.'")
	}
}

// Validate checks an actual LRP record: its key, state and presence, and that
// it holds an instance key exactly when it is CLAIMED or RUNNING.
func (a *ActualLRP) Validate() error {
	var v validator
	v.actualLRPKey(&a.ActualLRPKey)
	switch a.State {
	case ActualLRPStateClaimed, ActualLRPStateRunning:
		v.instanceKey(&a.ActualLRPInstanceKey)
	case ActualLRPStateUnclaimed, ActualLRPStateCrashed:
		if !a.ActualLRPInstanceKey.Empty() {
			v.add("instance_guid", "must be empty when %s", a.State)
		}
	default:
		v.add("state", "must be one of UNCLAIMED, CLAIMED, RUNNING, CRASHED")
	}
	switch a.Presence {
	case "", PresenceOrdinary, PresenceEvacuating, PresenceSuspect:
	default:
		v.add("presence", "must be one of ORDINARY, EVACUATING, SUSPECT")
	}
	v.nonNegative("crash_count", int64(a.CrashCount))
	for i, p := range a.Ports {
		if p.ContainerPort == 0 || p.ContainerPort > 65535 {
			v.add(join(at("ports", i), "container_port"), "must be between 1 and 65535")
		}
		if p.HostPort > 65535 {
			v.add(join(at("ports", i), "host_port"), "must be at most 65535")
		}
	}
	return v.result()
}

// Validate checks a cell's heartbeat record.
func (c *CellPresence) Validate() error {
	var v validator
	v.cellID("cell_id", c.CellID)
	if c.RepAddress == "" {
		v.add("rep_address", "is required")
	} else if !validAddress(c.RepAddress) {
		v.add("rep_address", "must be host:port or an http(s) URL")
	}
	if c.RepURL != "" {
		v.httpURL("rep_url", c.RepURL)
	}
	v.nonNegative("capacity.memory_mb", int64(c.Capacity.MemoryMB))
	v.nonNegative("capacity.disk_mb", int64(c.Capacity.DiskMB))
	v.nonNegative("capacity.containers", int64(c.Capacity.Containers))
	for name := range c.RootFSProviders {
		if name == "" {
			v.add("rootfs_providers", "has a provider with an empty name")
		}
	}
	v.placementTags("placement_tags", c.PlacementTags)
	v.placementTags("optional_placement_tags", c.OptionalPlacementTags)
	return v.result()
}

// validAddress accepts host:port or an absolute http(s) URL.
func validAddress(addr string) bool {
	if strings.Contains(addr, "://") {
		return httpURLProblem(addr) == ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return false
	}
	_, err = url.Parse("http://" + addr)
	return err == nil
}
