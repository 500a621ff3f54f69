package receptor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/diego-runtime/diego/models"
)

// Defaults for LogStream.
const (
	DefaultLogsStream   = "LOGS"
	DefaultRecentLogs   = 100
	MaxRecentLogs       = 10000
	DefaultLogsTimeout  = 5 * time.Second
	defaultLogKeepalive = 15 * time.Second
)

// LogStream serves GET /v1/logs/{log_guid}?recent=N&follow=true from the
// JetStream stream that keeps recent log lines (subjects logs.<log_guid>, see
// DESIGN 10): first the last N stored lines of that guid, oldest first, then,
// with follow=true, every new line as it is published. Each line is an SSE
// event named "log" whose id is the line's stream sequence and whose data is
// the models.LogEnvelope; a reconnecting follower that sends Last-Event-ID
// resumes after that line. Without follow the stream ends after the recent
// lines.
type LogStream struct {
	Logger lager.Logger
	JS     jetstream.JetStream
	// Stream is the JetStream stream name. Default "LOGS".
	Stream string
	// Timeout bounds each lookup in JetStream; past it the request answers
	// 503. Default 5 s.
	Timeout time.Duration
	// Keepalive is how often an idle follow stream gets a comment. Default 15 s.
	Keepalive time.Duration
}

func (s *LogStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	logger := s.Logger.Session("logs")
	guid := r.PathValue("log_guid")
	req, err := parseLogRequest(guid, r)
	if err != nil {
		writeJSON(w, models.AsError(err).Status, models.AsError(err))
		return
	}
	iter, err := s.open(r.Context(), guid, &req)
	if err != nil {
		logger.Error("opening-failed", err)
		writeJSON(w, http.StatusServiceUnavailable, models.ErrServiceUnavailable.WithMessage("the log store is unavailable: %s", err.Error()))
		return
	}
	flush := beginEventStream(w)
	if iter == nil {
		return
	}
	defer iter.Stop()
	stop := context.AfterFunc(r.Context(), iter.Stop)
	defer stop()

	if req.catchUp {
		recent, err := readRecent(iter, req.recent)
		if err != nil {
			return
		}
		for _, msg := range recent {
			if writeLog(w, msg) != nil {
				return
			}
		}
		flush()
		if !req.follow {
			return
		}
	}
	keepalive := s.Keepalive
	if keepalive <= 0 {
		keepalive = defaultLogKeepalive
	}
	for {
		msg, err := iter.Next(jetstream.NextMaxWait(keepalive))
		if errors.Is(err, nats.ErrTimeout) {
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return
			}
			flush()
			continue
		}
		if err != nil {
			return
		}
		if writeLog(w, msg) != nil {
			return
		}
		flush()
	}
}

type logRequest struct {
	recent  int
	follow  bool
	after   uint64 // resume after this stream sequence (follow only)
	catchUp bool   // read the stored lines first
}

func parseLogRequest(guid string, r *http.Request) (logRequest, error) {
	req := logRequest{recent: DefaultRecentLogs}
	if guid == "" || strings.ContainsAny(guid, ".*> \t\r\n") {
		return req, fieldError(models.ErrInvalidRequest, "log_guid", "may not be empty or contain '.', '*', '>' or spaces")
	}
	q := r.URL.Query()
	if v := q.Get("recent"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxRecentLogs {
			return req, fieldError(models.ErrInvalidRequest, "recent", "must be an integer from 0 to %d", MaxRecentLogs)
		}
		req.recent = n
	}
	if v := q.Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return req, fieldError(models.ErrInvalidRequest, "follow", "must be true or false")
		}
		req.follow = b
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" && req.follow {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return req, fieldError(models.ErrInvalidRequest, "Last-Event-ID", "must be a log line's sequence number")
		}
		req.after = n
	}
	return req, nil
}

// open starts an ordered consumer on the guid's subject, or returns nil when
// there is nothing to send (no follow and no stored lines wanted).
func (s *LogStream) open(ctx context.Context, guid string, req *logRequest) (jetstream.MessagesContext, error) {
	name := s.Stream
	if name == "" {
		name = DefaultLogsStream
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultLogsTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	subject := models.LogSubjectPrefix + guid
	stream, err := s.JS.Stream(lctx, name)
	if err != nil {
		return nil, fmt.Errorf("finding stream %s: %w", name, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case req.after > 0:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = req.after + 1
	case req.recent > 0:
		info, err := stream.Info(lctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return nil, fmt.Errorf("reading stream %s: %w", name, err)
		}
		if info.State.Subjects[subject] > 0 {
			cfg.DeliverPolicy = jetstream.DeliverAllPolicy
			req.catchUp = true
		}
	}
	if !req.catchUp && !req.follow {
		return nil, nil
	}
	consumer, err := stream.OrderedConsumer(lctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a consumer on %s: %w", subject, err)
	}
	return consumer.Messages()
}

// readRecent reads every stored line up to the present and keeps the last n.
func readRecent(iter jetstream.MessagesContext, n int) ([]jetstream.Msg, error) {
	ring := make([]jetstream.Msg, 0, n)
	for {
		msg, err := iter.Next()
		if err != nil {
			return nil, err
		}
		if len(ring) == n {
			ring = append(ring[:0], ring[1:]...)
		}
		ring = append(ring, msg)
		meta, err := msg.Metadata()
		if err != nil || meta.NumPending == 0 {
			return ring, nil
		}
	}
}

// writeLog writes one line as an SSE "log" event; lines that are not
// envelopes are skipped.
func writeLog(w http.ResponseWriter, msg jetstream.Msg) error {
	var env models.LogEnvelope
	if err := json.Unmarshal(msg.Data(), &env); err != nil {
		return nil
	}
	data, err := json.Marshal(env)
	if err != nil {
		return nil
	}
	var id uint64
	if meta, err := msg.Metadata(); err == nil {
		id = meta.Sequence.Stream
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: log\ndata: %s\n\n", id, data)
	return err
}
