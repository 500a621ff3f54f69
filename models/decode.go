package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// DecodeJSON decodes one JSON value (a request body) into v. An empty body,
// null, a syntax error, a value of the wrong type (an action that is not an
// object, or a field of an action's body) or trailing data is ErrInvalidJSON
// with the detail as its message. Unknown fields of records are ignored (an
// action's are always refused); see DecodeJSONStrict. An action node of the
// wrong shape (no key, several keys, an unknown kind) decodes, and its
// record's validation names it.
func DecodeJSON(data []byte, v any) error {
	return decodeJSON(data, v, false)
}

// DecodeJSONStrict is DecodeJSON that also refuses unknown fields at every
// depth: what the public API decodes with.
func DecodeJSONStrict(data []byte, v any) error {
	return decodeJSON(data, v, true)
}

// MaxJSONDepth caps how deeply a request body's objects and lists nest. It
// bounds the work of decoding nested actions (each level decodes its own
// subtree again) well before encoding/json's own limit of 10,000.
const MaxJSONDepth = 128

func decodeJSON(data []byte, v any, strict bool) error {
	if jsonTooDeep(data, MaxJSONDepth) {
		return ErrInvalidJSON.WithMessage("the body nests deeper than %d levels", MaxJSONDepth)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return ErrInvalidJSON.WithMessage("the body is empty")
	}
	if bytes.Equal(trimmed, []byte("null")) {
		return ErrInvalidJSON.WithMessage("the body is null")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ErrInvalidJSON.WithMessage("unexpected data after the JSON value")
	}
	return nil
}

// jsonError says what encoding/json refused, naming the field where it can.
func jsonError(err error) *Error {
	return ErrInvalidJSON.WithMessage("%s", describeJSONError(err))
}

// describeJSONError words a decoding error for a client.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return fmt.Sprintf("expected %s, got JSON %s", typeErr.Type, typeErr.Value)
		}
		return fmt.Sprintf("field %s: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "malformed JSON: the body ends early"
	}
	return err.Error()
}

// jsonTooDeep reports whether data nests objects and lists deeper than limit,
// counting brackets outside strings; it does not otherwise check the syntax.
func jsonTooDeep(data []byte, limit int) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > limit {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}

// updatableDesiredLRPField reports whether a PUT may name the field.
func updatableDesiredLRPField(name string) bool {
	switch name {
	case "instances", "routes", "annotation", "rootfs", "image_username", "image_password", "env", "setup",
		"action", "monitor", "check_definition", "start_timeout", "memory_mb", "disk_mb", "ports", "roll_policy":
		return true
	}
	return false
}

// CheckDesiredLRPUpdateFields refuses a PUT body that names a field a
// DesiredLRPUpdate does not have: ErrInvalidRequest (with a ValidationError
// naming every such field, in sorted order), or ErrInvalidJSON when the body is
// not a JSON object.
func CheckDesiredLRPUpdateFields(raw []byte) error {
	var fields map[string]json.RawMessage
	if err := DecodeJSON(raw, &fields); err != nil {
		return err
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		if !updatableDesiredLRPField(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	var v validator
	for _, name := range names {
		v.add(name, "cannot be updated (see docs/api-lrps.md for the fields a PUT may change)")
	}
	return Invalid(ErrInvalidRequest, v.result())
}

// DecodeDesiredLRP decodes (strictly) and validates a POST /v1/desired_lrps
// body: ErrInvalidJSON if it does not decode, ErrInvalidLRP (naming the
// fields) if it is not valid. The modification tag is the store's and is
// cleared.
func DecodeDesiredLRP(data []byte) (*DesiredLRP, error) {
	var d DesiredLRP
	if err := DecodeJSONStrict(data, &d); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, Invalid(ErrInvalidLRP, err)
	}
	d.ModificationTag = ModificationTag{}
	d.Version, d.Roll = "", nil
	return &d, nil
}

// DecodeDesiredLRPUpdate checks, decodes (strictly) and validates a PUT
// /v1/desired_lrps/:guid body: ErrInvalidJSON if it is not a JSON object or
// does not decode, ErrInvalidRequest for an immutable field or a bad value.
func DecodeDesiredLRPUpdate(data []byte) (*DesiredLRPUpdate, error) {
	if err := CheckDesiredLRPUpdateFields(data); err != nil {
		return nil, err
	}
	var u DesiredLRPUpdate
	if err := DecodeJSONStrict(data, &u); err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, Invalid(ErrInvalidRequest, err)
	}
	return &u, nil
}

// DecodeTask decodes (strictly) and validates a POST /v1/tasks body
// (task_guid, domain and the definition, flat): ErrInvalidJSON or
// ErrInvalidTask. Status fields a client may have sent (a record it read
// back) are cleared; the store sets them.
func DecodeTask(data []byte) (*Task, error) {
	var t Task
	if err := DecodeJSONStrict(data, &t); err != nil {
		return nil, err
	}
	if err := ValidateTask(t.TaskGuid, t.Domain, &t.TaskDefinition); err != nil {
		return nil, Invalid(ErrInvalidTask, err)
	}
	return &Task{TaskGuid: t.TaskGuid, Domain: t.Domain, TaskDefinition: t.TaskDefinition}, nil
}
