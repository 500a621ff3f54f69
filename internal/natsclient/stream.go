package natsclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"code.cloudfoundry.org/lager/v3"
	"github.com/nats-io/nats.go/jetstream"
)

// The log stream: every cell's rep publishes an instance's lines on
// logs.GUID, and the receptor reads them back from this stream.
const (
	LogsStream   = "LOGS"
	LogsSubjects = "logs.>"
)

// Defaults of LogStreamConfig.
const (
	DefaultLogsMaxMsgsPerSubject = 1000
	DefaultLogsMaxBytes          = 256 << 20
	DefaultLogsMaxAge            = 24 * time.Hour
	DefaultLogsReplicas          = 1
	DefaultLogsStorage           = "file"
)

// LogStreamConfig is what a daemon creates the log stream with when it is
// missing. An existing stream is used as it is if it is compatible (it
// keeps logs.> under limits, dropping the oldest lines when full), whatever
// its limits: the first daemon (or operator) to create it sets them.
type LogStreamConfig struct {
	// MaxMsgsPerSubject bounds the lines kept per log guid. Default 1000.
	MaxMsgsPerSubject int64 `json:"max_msgs_per_subject"`
	// MaxBytes bounds the whole stream; -1 means no bound. Default 256 MiB.
	MaxBytes int64 `json:"max_bytes"`
	// MaxAge is how long a line is kept; "0s" keeps it for ever. Default "24h".
	MaxAge time.Duration `json:"max_age"`
	// Replicas is how many servers of the cluster keep a copy (1, 3 or 5 on a
	// 3- or 5-node cluster). Default 1.
	Replicas int `json:"replicas"`
	// Storage is "file" or "memory". Default "file".
	Storage string `json:"storage"`
}

// DefaultLogStreamConfig returns every default.
func DefaultLogStreamConfig() LogStreamConfig {
	return LogStreamConfig{MaxMsgsPerSubject: DefaultLogsMaxMsgsPerSubject, MaxBytes: DefaultLogsMaxBytes,
		MaxAge: DefaultLogsMaxAge, Replicas: DefaultLogsReplicas, Storage: DefaultLogsStorage}
}

// Validate reports every problem, each naming its field.
func (c LogStreamConfig) Validate() error {
	var errs []error
	if c.MaxMsgsPerSubject < 1 {
		errs = append(errs, errors.New("max_msgs_per_subject must be at least 1"))
	}
	if c.MaxBytes < -1 || c.MaxBytes == 0 {
		errs = append(errs, errors.New("max_bytes must be positive, or -1 for no bound"))
	}
	if c.MaxAge < 0 {
		errs = append(errs, errors.New("max_age must not be negative (0s: for ever)"))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, errors.New("replicas must be 1 to 5"))
	}
	if c.Storage != "file" && c.Storage != "memory" {
		errs = append(errs, fmt.Errorf("storage must be \"file\" or \"memory\", not %q", c.Storage))
	}
	return errors.Join(errs...)
}

func (c LogStreamConfig) stream() jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if c.Storage == "memory" {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name: LogsStream, Subjects: []string{LogsSubjects},
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
		MaxMsgsPerSubject: c.MaxMsgsPerSubject, MaxBytes: c.MaxBytes, MaxAge: c.MaxAge,
		Replicas: c.Replicas, Storage: storage,
	}
}

// IncompatibleStreamError says that the stream exists with a config the
// daemons cannot use; it is left alone, for an operator to fix.
type IncompatibleStreamError struct {
	Stream  string
	Reasons []string
}

func (e *IncompatibleStreamError) Error() string {
	return fmt.Sprintf("JetStream stream %s exists but cannot keep log lines: %v; fix or delete it (nats stream edit/rm %s)",
		e.Stream, e.Reasons, e.Stream)
}

// EnsureLogStream makes sure the log stream exists: a compatible one is
// used as it is, a missing one is created from cfg, and an incompatible one
// is an *IncompatibleStreamError. Any other error (NATS unreachable,
// JetStream off) is returned wrapped.
func EnsureLogStream(ctx context.Context, logger lager.Logger, js jetstream.JetStream, cfg LogStreamConfig) error {
	logger = logger.Session("log-stream", lager.Data{"stream": LogsStream})
	stream, err := js.Stream(ctx, LogsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		created, err := js.CreateStream(ctx, cfg.stream())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another daemon created it meanwhile: check theirs.
			return EnsureLogStream(ctx, logger, js, cfg)
		}
		if err != nil {
			return fmt.Errorf("creating JetStream stream %s: %w", LogsStream, err)
		}
		info := created.CachedInfo().Config
		logger.Info("created", lager.Data{"max_msgs_per_subject": info.MaxMsgsPerSubject, "max_bytes": info.MaxBytes,
			"max_age": info.MaxAge.String(), "replicas": info.Replicas, "storage": info.Storage.String()})
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up JetStream stream %s: %w", LogsStream, err)
	}
	have := stream.CachedInfo().Config
	if reasons := incompatibilities(have); len(reasons) > 0 {
		return &IncompatibleStreamError{Stream: LogsStream, Reasons: reasons}
	}
	logger.Info("found", lager.Data{"max_msgs_per_subject": have.MaxMsgsPerSubject, "max_bytes": have.MaxBytes,
		"max_age": have.MaxAge.String(), "replicas": have.Replicas, "storage": have.Storage.String()})
	return nil
}

// incompatibilities lists why a stream cannot serve as the log stream.
func incompatibilities(c jetstream.StreamConfig) []string {
	var out []string
	if !slices.Contains(c.Subjects, LogsSubjects) {
		out = append(out, fmt.Sprintf("subjects %v do not include %q", c.Subjects, LogsSubjects))
	}
	if c.Retention != jetstream.LimitsPolicy {
		out = append(out, fmt.Sprintf("retention is %s, not limits (lines would be removed once read)", c.Retention))
	}
	if c.Discard != jetstream.DiscardOld {
		out = append(out, "discard is new, not old (a full stream would refuse new lines)")
	}
	return out
}
