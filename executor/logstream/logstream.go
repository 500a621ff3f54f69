// Package logstream turns the output of an instance's processes into log
// envelopes (DESIGN 10) published on NATS subject logs.<log_guid>: one envelope
// per line, lines capped at 60 KiB, and an optional per-instance rate limit that
// says how many lines it dropped rather than dropping them silently.
package logstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"
	"golang.org/x/time/rate"

	"github.com/diego-runtime/diego/executor/steps"
	"github.com/diego-runtime/diego/models"
)

// Publisher sends one message; *nats.Conn satisfies it.
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Emitter builds streamers that publish through one connection.
type Emitter struct {
	Publisher Publisher
	Clock     clock.Clock
	Logger    lager.Logger
	// LinesPerSecond limits each instance's lines; 0 means no limit.
	LinesPerSecond int
}

// Streamer returns a streamer for one instance (or task) of an app.
func (e *Emitter) Streamer(logGuid, sourceType string, index int) *Streamer {
	s := &Streamer{
		emitter:  e,
		logGuid:  logGuid,
		source:   sourceType,
		instance: strconv.Itoa(index),
		shared:   &shared{},
	}
	if e.LinesPerSecond > 0 {
		s.shared.limiter = rate.NewLimiter(rate.Limit(e.LinesPerSecond), e.LinesPerSecond)
	}
	return s
}

// shared is the state of one instance that all its sources share.
type shared struct {
	mu      sync.Mutex
	limiter *rate.Limiter
	dropped int
}

// Streamer publishes an instance's lines under a source type. It implements
// steps.Streamer.
type Streamer struct {
	emitter  *Emitter
	logGuid  string
	source   string
	instance string
	shared   *shared
}

var _ steps.Streamer = (*Streamer)(nil)

// Stdout returns a writer whose every line is an OUT envelope.
func (s *Streamer) Stdout() io.Writer { return s.writer(models.LogMessageTypeOut) }

// Stderr returns a writer whose every line is an ERR envelope.
func (s *Streamer) Stderr() io.Writer { return s.writer(models.LogMessageTypeErr) }

// WithSource returns a streamer for another source type of the same instance.
func (s *Streamer) WithSource(source string) steps.Streamer {
	if source == "" {
		return s
	}
	c := *s
	c.source = source
	return &c
}

// Printf publishes one OUT line (lifecycle messages of the cell).
func (s *Streamer) Printf(format string, args ...any) {
	s.emit(models.LogMessageTypeOut, fmt.Sprintf(format, args...))
}

func (s *Streamer) writer(messageType string) io.Writer {
	return &lineWriter{emit: func(line string) { s.emit(messageType, line) }}
}

func (s *Streamer) emit(messageType, message string) {
	if s.shared.limiter != nil {
		s.shared.mu.Lock()
		if !s.shared.limiter.Allow() {
			s.shared.dropped++
			s.shared.mu.Unlock()
			return
		}
		dropped := s.shared.dropped
		s.shared.dropped = 0
		s.shared.mu.Unlock()
		if dropped > 0 {
			s.publish(models.LogSourceCell, models.LogMessageTypeErr,
				fmt.Sprintf("Dropped %d log lines: the instance logged more than %d lines per second", dropped, s.emitter.LinesPerSecond))
		}
	}
	s.publish(s.source, messageType, message)
}

func (s *Streamer) publish(source, messageType, message string) {
	data, err := json.Marshal(models.LogEnvelope{
		LogGuid:        s.logGuid,
		SourceType:     source,
		SourceInstance: s.instance,
		MessageType:    messageType,
		Timestamp:      s.emitter.Clock.Now().UnixNano(),
		Message:        message,
	})
	if err != nil {
		return
	}
	if err := s.emitter.Publisher.Publish(models.LogSubjectPrefix+s.logGuid, data); err != nil && s.emitter.Logger != nil {
		s.emitter.Logger.Error("publish-failed", err, lager.Data{"log_guid": s.logGuid})
	}
}

// lineWriter splits a byte stream into lines, each at most MaxLogLineBytes.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emitLine(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= models.MaxLogLineBytes {
		w.emit(string(w.buf[:models.MaxLogLineBytes]))
		w.buf = w.buf[models.MaxLogLineBytes:]
	}
	if len(w.buf) == 0 {
		w.buf = nil // let a large buffer go
	}
	return len(p), nil
}

func (w *lineWriter) emitLine(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	for len(line) > models.MaxLogLineBytes {
		w.emit(string(line[:models.MaxLogLineBytes]))
		line = line[models.MaxLogLineBytes:]
	}
	w.emit(string(line))
}

// Flush publishes a last line that had no newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emitLine(w.buf)
		w.buf = nil
	}
}
