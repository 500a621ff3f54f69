package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/diego-runtime/diego/models"
)

// Events travel as server-sent events: an "id:" line with the event's ID, an
// "event:" line with its type and one "data:" line with the JSON body (the
// fields of models.Event that belong to the type), then a blank line. Lines
// starting with ":" are keepalive comments.
//
// A stream that ends because of a typed error (models.Error: InvalidRequest
// for a resume into compacted history, ServiceUnavailable when etcd ended
// the watch) ends with one last event named "error" whose data is that
// error's JSON ({"name": ..., "message": ...}) and which has no id; SSESource
// returns it from Next as the *models.Error. A stream that ends without one
// (the server went away) reads as an unexpected EOF.
const EventTypeError = "error"

// WriteEvent writes one event in that form.
func WriteEvent(w io.Writer, ev models.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding event %d: %w", ev.ID, err)
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
	return err
}

// WriteErrorEvent writes the "error" event that ends a stream.
func WriteErrorEvent(w io.Writer, e *models.Error) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding error event: %w", err)
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", EventTypeError, data)
	return err
}

// SSESource reads events written by WriteEvent and WriteErrorEvent.
type SSESource struct {
	body   io.ReadCloser
	reader *bufio.Reader
	cancel context.CancelFunc
}

// NewSSESource reads events from body; Close closes it and calls cancel (may be nil).
func NewSSESource(body io.ReadCloser, cancel context.CancelFunc) *SSESource {
	return &SSESource{body: body, reader: bufio.NewReaderSize(body, 64*1024), cancel: cancel}
}

// Next blocks until the next whole event arrives; it returns an error once the
// stream ends or is closed.
func (s *SSESource) Next() (models.Event, error) {
	var ev models.Event
	var data strings.Builder
	seen := false
	for {
		line, err := s.reader.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return models.Event{}, fmt.Errorf("reading event stream: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if !seen {
				continue
			}
			if ev.Type == EventTypeError {
				return models.Event{}, decodeErrorEvent(data.String())
			}
			if data.Len() > 0 {
				if err := json.Unmarshal([]byte(data.String()), &ev); err != nil {
					return models.Event{}, fmt.Errorf("decoding event %d: %w", ev.ID, err)
				}
			}
			return ev, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		seen = true
		switch field {
		case "id":
			id, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return models.Event{}, fmt.Errorf("bad event id %q: %w", value, err)
			}
			ev.ID = id
		case "event":
			ev.Type = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
}

// decodeErrorEvent turns the data of an "error" event into the typed error
// it names (errors.Is matches the sentinel of that name).
func decodeErrorEvent(data string) error {
	var e models.Error
	if err := json.Unmarshal([]byte(data), &e); err != nil || e.Name == "" {
		return fmt.Errorf("reading event stream: undecodable error event %q", data)
	}
	return &e
}

// Close ends the stream.
func (s *SSESource) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	return s.body.Close()
}

// StreamEvents writes events from source to w with WriteEvent, flushing w after each
// and writing a keepalive comment when idle, until the source fails, a write
// fails or ctx ends. When the source fails with a typed error (*models.Error)
// the stream ends with that error as an "error" event. It closes source
// before returning.
func StreamEvents(ctx context.Context, w http.ResponseWriter, source EventSource, keepalive time.Duration) {
	flusher, _ := w.(http.Flusher)
	events := make(chan models.Event)
	var failure *models.Error // set before events is closed
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			ev, err := source.Next()
			if err != nil {
				var typed *models.Error
				if errors.As(err, &typed) {
					failure = typed
				}
				close(events)
				return
			}
			select {
			case events <- ev:
			case <-done:
				return
			}
		}
	}()
	defer source.Close()
	ticker := time.NewTicker(keepalive)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				if failure != nil && ctx.Err() == nil {
					_ = WriteErrorEvent(w, failure) // the client may be gone; nothing to tell
					if flusher != nil {
						flusher.Flush()
					}
				}
				return
			}
			if err := WriteEvent(w, ev); err != nil {
				return
			}
		case <-ticker.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}
