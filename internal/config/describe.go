package config

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Property is one setting of a config file, found by Describe: its dotted
// JSON path (nested structs become "outer.inner"), its JSON type, its
// default, and where it is declared, so that its doc comment can be found.
type Property struct {
	// Name is the dotted JSON path, e.g. "etcd.endpoints".
	Name string `json:"name"`
	// Type is the JSON shape: string, integer, number, boolean, duration
	// (a Go duration string), list or object.
	Type string `json:"type"`
	// Default is the value the daemon uses when the file leaves it out, as
	// JSON (durations as Go duration strings).
	Default any `json:"default"`
	// Declared names the Go field the property is read into.
	Declared Declaration `json:"declared"`
}

// Declaration is the Go field behind a property: the package path of the
// struct type ("main" for a command's own Config), the type and the field.
type Declaration struct {
	Package string `json:"package"`
	Type    string `json:"type"`
	Field   string `json:"field"`
}

var (
	jsonMarshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// Describe lists every property of cfg (a struct or a pointer to one holding
// the defaults), in declaration order. Nested structs are walked into;
// embedded structs lend their fields to the level they are embedded at, as
// encoding/json reads them. Maps and lists are single properties.
func Describe(cfg any) ([]Property, error) {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: describing %T: not a struct", cfg)
	}
	var out []Property
	if err := describe(v, "", &out); err != nil {
		return nil, err
	}
	return out, nil
}

func describe(v reflect.Value, prefix string, out *[]Property) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := describe(fv, prefix, out); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		if walkInto(f.Type) {
			if err := describe(fv, path+".", out); err != nil {
				return err
			}
			continue
		}
		def, err := jsonDefault(fv)
		if err != nil {
			return fmt.Errorf("config: default of %s: %w", path, err)
		}
		*out = append(*out, Property{
			Name:     path,
			Type:     jsonType(f.Type),
			Default:  def,
			Declared: Declaration{Package: t.PkgPath(), Type: t.Name(), Field: f.Name},
		})
	}
	return nil
}

// walkInto reports whether a field of type t is a group of properties rather
// than one: a plain struct that does not encode itself.
func walkInto(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Time{}) {
		return false
	}
	p := reflect.PointerTo(t)
	return !t.Implements(jsonMarshalerType) && !p.Implements(jsonMarshalerType) &&
		!t.Implements(textMarshalerType) && !p.Implements(textMarshalerType)
}

func jsonType(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list"
	}
	return "object"
}

// jsonDefault is v as a JSON value; durations become Go duration strings, the
// form config files are written in.
func jsonDefault(v reflect.Value) (any, error) { return toJSON(v) }
