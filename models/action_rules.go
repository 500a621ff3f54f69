package models

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Action kinds: the one key of an action's JSON object.
const (
	ActionKindRun          = "run"
	ActionKindDownload     = "download"
	ActionKindUpload       = "upload"
	ActionKindEmitProgress = "emit_progress"
	ActionKindTimeout      = "timeout"
	ActionKindTry          = "try"
	ActionKindParallel     = "parallel"
	ActionKindSerial       = "serial"
	ActionKindCodependent  = "codependent"
)

// MaxActionDepth is how deeply actions may nest (a run inside a try inside a
// serial is depth 3); deeper trees are refused rather than walked.
const MaxActionDepth = 32

// Checksum algorithms a download may name.
const (
	ChecksumMD5    = "md5"
	ChecksumSHA1   = "sha1"
	ChecksumSHA256 = "sha256"
)

// checksumHexLen is how many hex digits a checksum of alg has.
func checksumHexLen(alg string) (int, bool) {
	switch alg {
	case ChecksumMD5:
		return 32, true
	case ChecksumSHA1:
		return 40, true
	case ChecksumSHA256:
		return 64, true
	}
	return 0, false
}

// kinds lists the kinds that are set, in wire-name order of the struct.
func (a *Action) kinds() []string {
	var out []string
	if a.Run != nil {
		out = append(out, ActionKindRun)
	}
	if a.Download != nil {
		out = append(out, ActionKindDownload)
	}
	if a.Upload != nil {
		out = append(out, ActionKindUpload)
	}
	if a.EmitProgress != nil {
		out = append(out, ActionKindEmitProgress)
	}
	if a.Timeout != nil {
		out = append(out, ActionKindTimeout)
	}
	if a.Try != nil {
		out = append(out, ActionKindTry)
	}
	if a.Parallel != nil {
		out = append(out, ActionKindParallel)
	}
	if a.Serial != nil {
		out = append(out, ActionKindSerial)
	}
	if a.Codependent != nil {
		out = append(out, ActionKindCodependent)
	}
	return out
}

// Kind names the one kind that is set ("run", "serial", ...), or "" when the
// action is nil or does not have exactly one kind.
func (a *Action) Kind() string {
	if a == nil {
		return ""
	}
	if k := a.kinds(); len(k) == 1 {
		return k[0]
	}
	return ""
}

// Inner returns the one value that is set (*RunAction, *SerialAction, ...), or
// nil when the action is nil or does not have exactly one kind.
func (a *Action) Inner() any {
	switch a.Kind() {
	case ActionKindRun:
		return a.Run
	case ActionKindDownload:
		return a.Download
	case ActionKindUpload:
		return a.Upload
	case ActionKindEmitProgress:
		return a.EmitProgress
	case ActionKindTimeout:
		return a.Timeout
	case ActionKindTry:
		return a.Try
	case ActionKindParallel:
		return a.Parallel
	case ActionKindSerial:
		return a.Serial
	case ActionKindCodependent:
		return a.Codependent
	}
	return nil
}

// Children returns the actions directly inside this one (none for run,
// download and upload).
func (a *Action) Children() []*Action {
	switch a.Kind() {
	case ActionKindEmitProgress:
		return []*Action{a.EmitProgress.Action}
	case ActionKindTimeout:
		return []*Action{a.Timeout.Action}
	case ActionKindTry:
		return []*Action{a.Try.Action}
	case ActionKindParallel:
		return a.Parallel.Actions
	case ActionKindSerial:
		return a.Serial.Actions
	case ActionKindCodependent:
		return a.Codependent.Actions
	}
	return nil
}

// Run wraps a run action.
func Run(r RunAction) *Action { return &Action{Run: &r} }

// Download wraps a download action.
func Download(d DownloadAction) *Action { return &Action{Download: &d} }

// Upload wraps an upload action.
func Upload(u UploadAction) *Action { return &Action{Upload: &u} }

// Serial runs actions in order, stopping at the first failure.
func Serial(actions ...*Action) *Action {
	return &Action{Serial: &SerialAction{Actions: actions}}
}

// Parallel runs actions at once and fails if any failed.
func Parallel(actions ...*Action) *Action {
	return &Action{Parallel: &ParallelAction{Actions: actions}}
}

// Codependent runs actions at once; when any exits the rest are cancelled.
func Codependent(actions ...*Action) *Action {
	return &Action{Codependent: &CodependentAction{Actions: actions}}
}

// Try runs a and swallows its failure.
func Try(a *Action) *Action { return &Action{Try: &TryAction{Action: a}} }

// Timeout fails a if it has not finished after d.
func Timeout(a *Action, d time.Duration) *Action {
	return &Action{Timeout: &TimeoutAction{Action: a, Timeout: int64(d)}}
}

// EmitProgress logs the messages around a; empty messages are not logged.
func EmitProgress(a *Action, start, success, failurePrefix string) *Action {
	return &Action{EmitProgress: &EmitProgressAction{
		Action: a, StartMessage: start, SuccessMessage: success, FailureMessagePrefix: failurePrefix,
	}}
}

// UnmarshalJSON accepts only an object with exactly one known, non-null key,
// so that an ambiguous action never reaches validation or the executor.
func (a *Action) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	if fields == nil {
		return fmt.Errorf("an action must be an object, not null")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 1 {
		return fmt.Errorf("an action must have exactly one key, got %d (%s)", len(keys), strings.Join(keys, ", "))
	}
	kind, raw := keys[0], fields[keys[0]]
	if string(raw) == "null" {
		return fmt.Errorf("action %q must be an object, not null", kind)
	}
	var out Action
	var target any
	switch kind {
	case ActionKindRun:
		out.Run = &RunAction{}
		target = out.Run
	case ActionKindDownload:
		out.Download = &DownloadAction{}
		target = out.Download
	case ActionKindUpload:
		out.Upload = &UploadAction{}
		target = out.Upload
	case ActionKindEmitProgress:
		out.EmitProgress = &EmitProgressAction{}
		target = out.EmitProgress
	case ActionKindTimeout:
		out.Timeout = &TimeoutAction{}
		target = out.Timeout
	case ActionKindTry:
		out.Try = &TryAction{}
		target = out.Try
	case ActionKindParallel:
		out.Parallel = &ParallelAction{}
		target = out.Parallel
	case ActionKindSerial:
		out.Serial = &SerialAction{}
		target = out.Serial
	case ActionKindCodependent:
		out.Codependent = &CodependentAction{}
		target = out.Codependent
	default:
		return fmt.Errorf("unknown action kind %q", kind)
	}
	if err := json.Unmarshal(raw, target); err != nil {
		return fmt.Errorf("decoding %s action: %w", kind, err)
	}
	*a = out
	return nil
}

// Validate checks an action tree on its own; fields are named relative to it
// ("serial.actions[1].run.path"). A nil action is reported as "action".
func (a *Action) Validate() error {
	var v validator
	if a == nil {
		v.add("action", "is required")
	} else {
		v.action("", a, 1)
	}
	return v.result()
}

// requiredAction checks a field that must hold an action at depth.
func (v *validator) requiredAction(field string, a *Action, depth int) {
	if a == nil {
		v.add(field, "is required")
		return
	}
	v.action(field, a, depth)
}

// action checks a non-nil action whose path is prefix and which sits depth
// actions deep (1 for a top-level action).
func (v *validator) action(prefix string, a *Action, depth int) {
	if depth > MaxActionDepth {
		v.add(prefix, "nests actions deeper than %d", MaxActionDepth)
		return
	}
	kinds := a.kinds()
	if len(kinds) != 1 {
		field := prefix
		if field == "" {
			field = "action"
		}
		if len(kinds) == 0 {
			v.add(field, "must have exactly one action kind, got none")
		} else {
			v.add(field, "must have exactly one action kind, got %s", strings.Join(kinds, ", "))
		}
		return
	}
	p := join(prefix, kinds[0])
	switch kinds[0] {
	case ActionKindRun:
		v.runAction(p, a.Run)
	case ActionKindDownload:
		v.downloadAction(p, a.Download)
	case ActionKindUpload:
		if a.Upload.From == "" {
			v.add(join(p, "from"), "is required")
		}
		if a.Upload.To == "" {
			v.add(join(p, "to"), "is required")
		} else {
			v.httpURL(join(p, "to"), a.Upload.To)
		}
	case ActionKindEmitProgress:
		v.requiredAction(join(p, "action"), a.EmitProgress.Action, depth+1)
	case ActionKindTimeout:
		if a.Timeout.Timeout <= 0 {
			v.add(join(p, "timeout"), "must be positive (nanoseconds)")
		}
		v.requiredAction(join(p, "action"), a.Timeout.Action, depth+1)
	case ActionKindTry:
		v.requiredAction(join(p, "action"), a.Try.Action, depth+1)
	case ActionKindParallel:
		v.actionList(join(p, "actions"), a.Parallel.Actions, depth+1)
	case ActionKindSerial:
		v.actionList(join(p, "actions"), a.Serial.Actions, depth+1)
	case ActionKindCodependent:
		v.actionList(join(p, "actions"), a.Codependent.Actions, depth+1)
	}
}

func (v *validator) actionList(field string, actions []*Action, depth int) {
	if len(actions) == 0 {
		v.add(field, "must not be empty")
	}
	for i, a := range actions {
		v.requiredAction(at(field, i), a, depth)
	}
}

func (v *validator) runAction(p string, r *RunAction) {
	if r.Path == "" {
		v.add(join(p, "path"), "is required")
	}
	v.env(join(p, "env"), r.Env)
}

func (v *validator) downloadAction(p string, d *DownloadAction) {
	if d.From == "" {
		v.add(join(p, "from"), "is required")
	} else {
		v.httpURL(join(p, "from"), d.From)
	}
	if d.To == "" {
		v.add(join(p, "to"), "is required")
	}
	alg, value := d.ChecksumAlgorithm, d.ChecksumValue
	n, known := checksumHexLen(alg)
	if alg != "" && !known {
		v.add(join(p, "checksum_algorithm"), "must be one of md5, sha1, sha256")
	}
	if alg != "" && value == "" {
		v.add(join(p, "checksum_value"), "is required with checksum_algorithm")
	}
	if alg == "" && value != "" {
		v.add(join(p, "checksum_algorithm"), "is required with checksum_value")
	}
	if known && value != "" {
		if _, err := hex.DecodeString(value); err != nil || len(value) != n {
			v.add(join(p, "checksum_value"), "must be %d hex digits for %s", n, alg)
		}
	}
}
