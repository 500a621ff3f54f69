package config

import (
	"encoding/json"
	"reflect"
	"time"
)

// Encode writes cfg (a struct or a pointer to one) as indented JSON in the
// form Load reads: every time.Duration as a Go duration string.
func Encode(cfg any) ([]byte, error) {
	v, err := toJSON(reflect.ValueOf(cfg))
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}

// toJSON is v as a generic JSON value with durations as strings.
func toJSON(v reflect.Value) (any, error) {
	data, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return durationsToStrings(out, v.Type()), nil
}

// durationsToStrings turns the nanosecond numbers encoding/json writes for
// time.Duration fields into duration strings, following t.
func durationsToStrings(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		if n, ok := v.(float64); ok {
			return time.Duration(int64(n)).String()
		}
		return v
	}
	switch t.Kind() {
	case reflect.Struct:
		if obj, ok := v.(map[string]any); ok {
			fields := jsonFields(t)
			for name, value := range obj {
				if ft, ok := fields[name]; ok {
					obj[name] = durationsToStrings(value, ft)
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if list, ok := v.([]any); ok {
			for i := range list {
				list[i] = durationsToStrings(list[i], t.Elem())
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for k, value := range obj {
				obj[k] = durationsToStrings(value, t.Elem())
			}
		}
	}
	return v
}
