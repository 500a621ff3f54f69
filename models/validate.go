package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Size limits a client's records must respect (DESIGN 11).
const (
	// MaxAnnotationBytes caps a desired LRP's or task's annotation (10 KiB).
	MaxAnnotationBytes = 10 * 1024
	// MaxRoutesBytes caps the JSON encoding of a desired LRP's routes (128 KiB).
	MaxRoutesBytes = 128 * 1024
	// MaxGuidLength caps process, task and instance guids and cell ids.
	MaxGuidLength = 128
	// MaxDomainLength caps a domain name.
	MaxDomainLength = 255
	// MaxCPUWeight is the largest cpu_weight.
	MaxCPUWeight = 100
)

var (
	guidPattern   = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	domainPattern = regexp.MustCompile(`^[a-zA-Z0-9_.:-]+$`)
	cellIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
)

// Invalid turns the result of a Validate method into the wire error base (for
// example ErrInvalidLRP) carrying the list of bad fields as its message. The
// result matches errors.Is(err, base) and errors.As(err, &ValidationError{}).
// A nil err gives nil.
func Invalid(base *Error, err error) error {
	if err == nil {
		return nil
	}
	var fields ValidationError
	if errors.As(err, &fields) {
		return &invalidError{wire: base.WithMessage("%s", fields.Error()), fields: fields}
	}
	var typed *Error
	if errors.As(err, &typed) {
		return err
	}
	return base.WithMessage("%s", err.Error())
}

type invalidError struct {
	wire   *Error
	fields ValidationError
}

func (e *invalidError) Error() string   { return e.wire.Error() }
func (e *invalidError) Unwrap() []error { return []error{e.wire, e.fields} }

// Fields lists the JSON paths of the bad fields, in the order they were found.
func (v ValidationError) Fields() []string {
	out := make([]string, len(v))
	for i, f := range v {
		out[i] = f.Field
	}
	return out
}

// Has reports whether field is among the bad fields.
func (v ValidationError) Has(field string) bool {
	for _, f := range v {
		if f.Field == field {
			return true
		}
	}
	return false
}

// validator collects field errors under JSON paths.
type validator struct{ errs ValidationError }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// result returns nil when nothing was wrong, so callers never see a typed nil.
func (v *validator) result() error {
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

// join builds a JSON path: join("action", "run") is "action.run"; an empty
// prefix gives the name alone.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func at(prefix string, i int) string { return fmt.Sprintf("%s[%d]", prefix, i) }

func (v *validator) guid(field, value string) {
	switch {
	case value == "":
		v.add(field, "is required")
	case len(value) > MaxGuidLength:
		v.add(field, "is longer than %d characters", MaxGuidLength)
	case !guidPattern.MatchString(value):
		v.add(field, "may contain only letters, digits, '_' and '-'")
	}
}

func (v *validator) domain(field, value string) {
	if reason := domainProblem(value); reason != "" {
		v.add(field, "%s", reason)
	}
}

func domainProblem(name string) string {
	switch {
	case name == "":
		return "is required"
	case len(name) > MaxDomainLength:
		return fmt.Sprintf("is longer than %d characters", MaxDomainLength)
	case !domainPattern.MatchString(name):
		return "may contain only letters, digits, '_', '-', '.' and ':'"
	}
	return ""
}

// ValidateDomain checks a domain name as PUT /v1/domains/:domain receives it.
func ValidateDomain(name string) error {
	var v validator
	v.domain("domain", name)
	return v.result()
}

// Validate checks a domain record.
func (d *Domain) Validate() error {
	var v validator
	v.domain("name", d.Name)
	if d.TTLSeconds < 0 {
		v.add("ttl_seconds", "must not be negative")
	}
	return v.result()
}

func (v *validator) nonNegative(field string, value int64) {
	if value < 0 {
		v.add(field, "must not be negative")
	}
}

func (v *validator) rootfs(field, value string) {
	if value == "" {
		v.add(field, "is required")
		return
	}
	if _, err := ParseRootFS(value); err != nil {
		v.add(field, "%s", err.Error())
	}
}

func (v *validator) imageCredentials(username, password string) {
	if username != "" && password == "" {
		v.add("image_password", "is required with image_username")
	}
	if password != "" && username == "" {
		v.add("image_username", "is required with image_password")
	}
}

func (v *validator) env(prefix string, env []EnvVar) {
	for i, e := range env {
		if e.Name == "" {
			v.add(join(at(prefix, i), "name"), "is required")
		} else if strings.ContainsAny(e.Name, "=\x00") {
			v.add(join(at(prefix, i), "name"), "must not contain '=' or NUL")
		}
	}
}

// resources checks the fields shared by desired LRPs and tasks.
func (v *validator) resources(memoryMB, diskMB, maxPids, cpuWeight int) {
	v.nonNegative("memory_mb", int64(memoryMB))
	v.nonNegative("disk_mb", int64(diskMB))
	v.nonNegative("max_pids", int64(maxPids))
	if cpuWeight < 0 || cpuWeight > MaxCPUWeight {
		v.add("cpu_weight", "must be between 0 and %d", MaxCPUWeight)
	}
}

func (v *validator) annotation(field, value string) {
	if len(value) > MaxAnnotationBytes {
		v.add(field, "is %d bytes, more than the limit of %d", len(value), MaxAnnotationBytes)
	}
}

func (v *validator) placementTags(field string, tags []string) {
	for i, t := range tags {
		if t == "" {
			v.add(at(field, i), "must not be empty")
		}
	}
}

func (v *validator) routes(field string, routes Routes) {
	if routes == nil {
		return
	}
	encoded, err := json.Marshal(routes)
	if err != nil {
		v.add(field, "is not valid JSON")
		return
	}
	if len(encoded) > MaxRoutesBytes {
		v.add(field, "is %d bytes of JSON, more than the limit of %d", len(encoded), MaxRoutesBytes)
	}
	for name := range routes {
		if name == "" {
			v.add(field, "has a router with an empty name")
		}
	}
	raw, ok := routes[CFRouterKey]
	if !ok {
		return
	}
	cfField := join(field, CFRouterKey)
	var cf []CFRoute
	if err := json.Unmarshal(raw, &cf); err != nil {
		v.add(cfField, "must be a list of {hostnames, port}: %s", err.Error())
		return
	}
	for i, r := range cf {
		if len(r.Hostnames) == 0 {
			v.add(join(at(cfField, i), "hostnames"), "must not be empty")
		}
		for j, h := range r.Hostnames {
			if h == "" {
				v.add(at(join(at(cfField, i), "hostnames"), j), "must not be empty")
			}
		}
		if r.Port == 0 || r.Port > 65535 {
			v.add(join(at(cfField, i), "port"), "must be between 1 and 65535")
		}
	}
}

// CFRoutes decodes the "cf-router" value of routes; no key gives no routes.
func (r Routes) CFRoutes() ([]CFRoute, error) {
	raw, ok := r[CFRouterKey]
	if !ok {
		return nil, nil
	}
	var cf []CFRoute
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("decoding %s routes: %w", CFRouterKey, err)
	}
	return cf, nil
}

// httpURL checks that value is an absolute http or https URL with a host.
func httpURLProblem(value string) string {
	u, err := url.Parse(value)
	if err != nil {
		return "is not a parseable URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "must be an absolute http or https URL"
	}
	if u.Host == "" {
		return "must name a host"
	}
	return ""
}

func (v *validator) httpURL(field, value string) {
	if reason := httpURLProblem(value); reason != "" {
		v.add(field, "%s", reason)
	}
}

func (v *validator) absolutePath(field, value string) {
	if !path.IsAbs(value) {
		v.add(field, "must be an absolute path")
	}
}

// Egress rule protocols.
const (
	ProtocolTCP  = "tcp"
	ProtocolUDP  = "udp"
	ProtocolICMP = "icmp"
	ProtocolAll  = "all"
)

func (v *validator) egressRules(field string, rules []SecurityGroupRule) {
	for i, r := range rules {
		v.egressRule(at(field, i), r)
	}
}

func (v *validator) egressRule(prefix string, r SecurityGroupRule) {
	switch r.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolICMP, ProtocolAll:
	default:
		v.add(join(prefix, "protocol"), "must be one of tcp, udp, icmp, all")
	}
	if len(r.Destinations) == 0 {
		v.add(join(prefix, "destinations"), "must name at least one destination")
	}
	for j, d := range r.Destinations {
		if !validDestination(d) {
			v.add(at(join(prefix, "destinations"), j), "must be an IP, a CIDR or a range a-b")
		}
	}
	hasPorts := len(r.Ports) > 0 || r.PortRange != nil
	if hasPorts && r.Protocol != ProtocolTCP && r.Protocol != ProtocolUDP {
		v.add(join(prefix, "ports"), "may be set only for tcp or udp")
	}
	if len(r.Ports) > 0 && r.PortRange != nil {
		v.add(join(prefix, "port_range"), "must not be set together with ports")
	}
	for j, p := range r.Ports {
		if p == 0 {
			v.add(at(join(prefix, "ports"), j), "must be between 1 and 65535")
		}
	}
	if pr := r.PortRange; pr != nil && (pr.Start == 0 || pr.End < pr.Start) {
		v.add(join(prefix, "port_range"), "must have 1 <= start <= end")
	}
	if info := r.IcmpInfo; info != nil {
		if r.Protocol != ProtocolICMP {
			v.add(join(prefix, "icmp_info"), "may be set only for icmp")
		}
		// Both are one byte on the wire (RFC 792).
		if info.Type < 0 || info.Type > 255 {
			v.add(join(join(prefix, "icmp_info"), "type"), "must be between 0 and 255")
		}
		if info.Code < 0 || info.Code > 255 {
			v.add(join(join(prefix, "icmp_info"), "code"), "must be between 0 and 255")
		}
	}
}

func validDestination(d string) bool {
	if net.ParseIP(d) != nil {
		return true
	}
	if _, _, err := net.ParseCIDR(d); err == nil {
		return true
	}
	lo, hi, ok := strings.Cut(d, "-")
	if !ok {
		return false
	}
	a, b := net.ParseIP(lo), net.ParseIP(hi)
	return a != nil && b != nil && (a.To4() == nil) == (b.To4() == nil)
}

func (v *validator) restartPolicy(field string, p *RestartPolicy) {
	if p == nil {
		return
	}
	if p.ImmediateRestarts < 0 {
		v.add(join(field, "immediate_restarts"), "must not be negative")
	}
	if p.BaseBackoffMs <= 0 {
		v.add(join(field, "base_backoff_ms"), "must be positive")
	}
	if p.MaxBackoffMs < p.BaseBackoffMs {
		v.add(join(field, "max_backoff_ms"), "must be at least base_backoff_ms")
	}
	if p.MaxRestarts < 0 {
		v.add(join(field, "max_restarts"), "must not be negative")
	}
	if p.ResetAfterMs < 0 {
		v.add(join(field, "reset_after_ms"), "must not be negative")
	}
}

// Validate checks a restart policy override on its own.
func (p *RestartPolicy) Validate() error {
	var v validator
	v.restartPolicy("", p)
	return v.result()
}
