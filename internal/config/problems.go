package config

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// FieldError is one problem with one field of a config.
type FieldError struct {
	// Field is the dotted JSON name, e.g. "etcd.endpoints".
	Field string
	// Problem says what is wrong, e.g. "is required".
	Problem string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

// Problems gathers everything wrong with a config so that Validate reports
// all of it at once rather than the first mistake of several.
type Problems struct{ errs []error }

// Addf records that field has the problem the format describes.
func (p *Problems) Addf(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Check records problem against field unless ok.
func (p *Problems) Check(ok bool, field, problem string) {
	if !ok {
		p.Addf(field, "%s", problem)
	}
}

// Positive records a problem for each listed duration that is not above zero.
func (p *Problems) Positive(durations map[string]time.Duration) {
	for _, name := range sortedKeys(durations) {
		if durations[name] <= 0 {
			p.Addf(name, "must be positive, not %s", durations[name])
		}
	}
}

// Nest records every problem of a nested config's error under prefix:
// field errors get "prefix." before their field, other errors "prefix: ".
func (p *Problems) Nest(prefix string, err error) {
	if err == nil {
		return
	}
	for _, e := range flatten(err) {
		var fe *FieldError
		if fieldError(e, &fe) {
			p.errs = append(p.errs, &FieldError{Field: prefix + "." + fe.Field, Problem: fe.Problem})
			continue
		}
		p.errs = append(p.errs, fmt.Errorf("%s: %w", prefix, e))
	}
}

// Add records err (a FieldError, a joined error of several, or any error)
// as it is.
func (p *Problems) Add(err error) {
	if err != nil {
		p.errs = append(p.errs, flatten(err)...)
	}
}

// Err is every recorded problem joined in one error (errors.Join, one line
// each), or nil.
func (p *Problems) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return &Invalid{Errs: p.errs}
}

// Invalid is a config's every problem; errors.As finds each FieldError in it.
type Invalid struct{ Errs []error }

func (e *Invalid) Error() string {
	msg := "invalid config:"
	for _, err := range e.Errs {
		msg += "\n  " + err.Error()
	}
	return msg
}

// Unwrap gives errors.Is and errors.As every problem.
func (e *Invalid) Unwrap() []error { return e.Errs }

// flatten splits a joined error (or an Invalid) into its parts.
func flatten(err error) []error {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range multi.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func fieldError(err error, target **FieldError) bool {
	fe, ok := err.(*FieldError)
	if ok {
		*target = fe
	}
	return ok
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
