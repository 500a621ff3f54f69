package steps

import (
	"fmt"
	"net/http"
	"time"

	"code.cloudfoundry.org/clock"

	"github.com/diego-runtime/diego/models"
)

// Deps is what the built steps share.
type Deps struct {
	Container   Container
	Streamer    Streamer
	HTTP        *http.Client
	Cache       Cache // may be nil
	Clock       clock.Clock
	GracePeriod time.Duration
	// Started, when set, is called each time a run action's process starts.
	Started func()
	// Env is the container's environment (image env, then the LRP's or task's,
	// then the instance variables); each run action's own env overlays it.
	Env []string
}

// Build turns an action tree into a step. The tree must have been validated.
// An action's log_source becomes the source of every line it and its children
// log, until a child names its own.
func Build(action *models.Action, deps Deps) (Step, error) {
	if action == nil {
		return nil, fmt.Errorf("no action")
	}
	if source := logSource(action); source != "" {
		deps.Streamer = deps.Streamer.WithSource(source)
	}
	switch {
	case action.Run != nil:
		run := action.Run
		env := append(append([]string{}, deps.Env...), envStrings(run.Env)...)
		return Run{
			Container: deps.Container,
			Spec: ProcessSpec{
				Path: run.Path, Args: run.Args, Dir: run.Dir, User: run.User,
				Env: dedupeEnv(env), Nofile: run.ResourceLimits.Nofile,
			},
			Streamer:    deps.Streamer,
			Suppress:    run.SuppressLogOutput,
			GracePeriod: deps.GracePeriod,
			Clock:       deps.Clock,
			Started:     deps.Started,
		}, nil
	case action.Download != nil:
		dl := action.Download
		return Download{
			Container: deps.Container, HTTP: deps.HTTP, Cache: deps.Cache, Streamer: deps.Streamer,
			Artifact: dl.Artifact, From: dl.From, To: dl.To, CacheKey: dl.CacheKey,
			ChecksumAlgorithm: dl.ChecksumAlgorithm, ChecksumValue: dl.ChecksumValue, User: dl.User,
		}, nil
	case action.Upload != nil:
		up := action.Upload
		return Upload{
			Container: deps.Container, HTTP: deps.HTTP, Streamer: deps.Streamer,
			Artifact: up.Artifact, From: up.From, To: up.To, User: up.User,
		}, nil
	case action.EmitProgress != nil:
		ep := action.EmitProgress
		inner, err := Build(ep.Action, deps)
		if err != nil {
			return nil, err
		}
		return EmitProgress{Step: inner, Streamer: deps.Streamer, StartMessage: ep.StartMessage,
			SuccessMessage: ep.SuccessMessage, FailureMessagePrefix: ep.FailureMessagePrefix}, nil
	case action.Timeout != nil:
		inner, err := Build(action.Timeout.Action, deps)
		if err != nil {
			return nil, err
		}
		return Timeout{Step: inner, After: time.Duration(action.Timeout.Timeout), Clock: deps.Clock}, nil
	case action.Try != nil:
		inner, err := Build(action.Try.Action, deps)
		if err != nil {
			return nil, err
		}
		return Try{Step: inner, Logger: deps.Streamer.Stdout()}, nil
	case action.Parallel != nil:
		children, err := buildAll(action.Parallel.Actions, deps)
		return Parallel(children), err
	case action.Serial != nil:
		children, err := buildAll(action.Serial.Actions, deps)
		return Serial(children), err
	case action.Codependent != nil:
		children, err := buildAll(action.Codependent.Actions, deps)
		return Codependent(children), err
	}
	return nil, fmt.Errorf("action has no kind set")
}

// logSource is the log_source the action names itself, whatever its kind.
func logSource(a *models.Action) string {
	switch {
	case a.Run != nil:
		return a.Run.LogSource
	case a.Download != nil:
		return a.Download.LogSource
	case a.Upload != nil:
		return a.Upload.LogSource
	case a.EmitProgress != nil:
		return a.EmitProgress.LogSource
	case a.Timeout != nil:
		return a.Timeout.LogSource
	case a.Try != nil:
		return a.Try.LogSource
	case a.Parallel != nil:
		return a.Parallel.LogSource
	case a.Serial != nil:
		return a.Serial.LogSource
	case a.Codependent != nil:
		return a.Codependent.LogSource
	}
	return ""
}

func buildAll(actions []*models.Action, deps Deps) ([]Step, error) {
	children := make([]Step, 0, len(actions))
	for i, a := range actions {
		step, err := Build(a, deps)
		if err != nil {
			return nil, fmt.Errorf("actions[%d]: %w", i, err)
		}
		children = append(children, step)
	}
	return children, nil
}

func envStrings(vars []models.EnvVar) []string {
	out := make([]string, 0, len(vars))
	for _, v := range vars {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// dedupeEnv keeps the last value of each name, in the order names first appear.
func dedupeEnv(env []string) []string {
	index := map[string]int{}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				name = kv[:i]
				break
			}
		}
		if at, ok := index[name]; ok {
			out[at] = kv
			continue
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	return out
}

// WithStreamer returns a copy of d whose steps write to s.
func (d Deps) WithStreamer(s Streamer) Deps {
	d.Streamer = s
	return d
}
