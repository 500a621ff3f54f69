package receptor

import (
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

func fieldError(kind *models.Error, field, format string, args ...any) error {
	return kind.WithMessage("%s: %s", field, fmt.Sprintf(format, args...))
}
