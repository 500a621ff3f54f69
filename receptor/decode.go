package receptor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/diego-runtime/diego/models"
)

// readBody reads at most limit bytes of the request body; more answers
// RequestEntityTooLarge.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, models.ErrBodyTooLarge.WithMessage("the request body is larger than %d bytes", limit)
		}
		return nil, models.ErrInvalidJSON.WithMessage("reading the body: %s", err.Error())
	}
	return data, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields,
// trailing data and values of the wrong type (naming the field).
func decodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return models.ErrInvalidJSON.WithMessage("the request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return models.ErrInvalidJSON.WithMessage("unexpected data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return models.ErrInvalidJSON.WithMessage("unexpected data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return models.ErrInvalidJSON.WithMessage("expected %s, got JSON %s", typeErr.Type, typeErr.Value)
		}
		return models.ErrInvalidJSON.WithMessage("field %s: expected %s, got JSON %s", field, typeErr.Type, typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return models.ErrInvalidJSON.WithMessage("malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return models.ErrInvalidJSON.WithMessage("the JSON ends early")
	}
	return models.ErrInvalidJSON.WithMessage("%s", err.Error())
}

// validate runs a Validate result through models.Invalid, so the error is
// kind (for example InvalidLRP) naming every bad field.
func validate(err error, kind *models.Error) error {
	var fields models.ValidationError
	if err == nil || (errors.As(err, &fields) && fields.Empty()) {
		return nil
	}
	return models.Invalid(kind, err)
}

func fieldError(kind *models.Error, field, format string, args ...any) error {
	return kind.WithMessage("%s: %s", field, fmt.Sprintf(format, args...))
}

// checkActionKeys refuses a top-level action field (action, setup, monitor)
// that is not an object with exactly one key, as kind naming the field. The
// JSON decoder would refuse it too, but only as InvalidJSON without the field.
func checkActionKeys(data []byte, kind *models.Error, fields ...string) error {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil // the strict decode reports it
	}
	for _, field := range fields {
		raw, ok := top[field]
		if !ok || string(bytes.TrimSpace(raw)) == "null" {
			continue
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return fieldError(kind, field, "must be an object with exactly one key naming the action")
		}
		if len(keys) != 1 {
			return fieldError(kind, field, "must have exactly one key naming the action, got %d", len(keys))
		}
	}
	return nil
}
