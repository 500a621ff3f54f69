// Package config loads a daemon's JSON config file over its defaults, checks
// it and writes one.
//
// One convention holds for every daemon: a config is a typed Go struct with a
// DefaultConfig and a Validate; fields are snake_case; a duration is a
// time.Duration written as a Go duration string ("30s", "1m30s", "500ms") and
// named without a unit suffix (lock_ttl, not lock_ttl_ms). A bare number where
// a duration belongs is refused, not read as nanoseconds: a file that still
// holds a millisecond count ("lock_ttl": 15000) would otherwise run with 15
// microseconds. Unknown fields are an error too, so a typo or a field renamed
// since never passes silently. Validate reports every problem at once
// (Problems), each naming its field. Encode writes a config the way Load reads
// it, durations as strings.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"
)

// Load reads path into cfg, which must already hold the defaults. An empty path
// keeps the defaults.
func Load(path string, cfg any) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if err := Decode(data, cfg); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Validator is a config that can say what is wrong with it.
type Validator interface{ Validate() error }

// LoadValid reads path into cfg (which holds the defaults) and validates it.
func LoadValid(path string, cfg Validator) error {
	if err := Load(path, cfg); err != nil {
		return err
	}
	return cfg.Validate()
}

// Decode applies a JSON document to cfg (a pointer to a struct with defaults).
func Decode(data []byte, cfg any) error {
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	normalized, err := normalize(raw, reflect.TypeOf(cfg).Elem(), "")
	if err != nil {
		return err
	}
	data, err = json.Marshal(normalized)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(cfg)
}

var durationType = reflect.TypeOf(time.Duration(0))

// normalize turns duration strings into nanoseconds wherever the target type is
// a time.Duration.
func normalize(v any, t reflect.Type, path string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		switch s := v.(type) {
		case string:
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(path, "."), err)
			}
			return int64(d), nil
		case nil:
			return v, nil
		default:
			return nil, fmt.Errorf("%s: a duration is a string such as \"30s\" or \"500ms\", not %v", strings.TrimPrefix(path, "."), v)
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		fields := jsonFields(t)
		for name, value := range obj {
			ft, ok := fields[name]
			if !ok {
				continue // DisallowUnknownFields reports it
			}
			n, err := normalize(value, ft, path+"."+name)
			if err != nil {
				return nil, err
			}
			obj[name] = n
		}
		return obj, nil
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return v, nil
		}
		for i := range list {
			n, err := normalize(list[i], t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			list[i] = n
		}
		return list, nil
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		for k, value := range obj {
			n, err := normalize(value, t.Elem(), path+"."+k)
			if err != nil {
				return nil, err
			}
			obj[k] = n
		}
		return obj, nil
	}
	return v, nil
}

// jsonFields maps JSON names to field types, following embedded structs.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
